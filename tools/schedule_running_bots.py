"""`python -m tools.schedule_running_bots`: one-off, after deploying the bot scheduler, put every
bot that was already running on the scheduler's due index (bots started since are scheduled by
their start). Uses the standard AWS settings of the shell, like the AWS CLI."""

from __future__ import annotations


def main() -> None:
    from shared.bots.service import schedule_unscheduled_running_bots

    print(f"scheduled {schedule_unscheduled_running_bots()} running bot(s)")


if __name__ == "__main__":
    main()
