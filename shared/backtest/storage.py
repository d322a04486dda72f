"""The data bucket: uploaded datasets and backtest results (the only module that talks to S3).

Layout, every key under the tenant's own prefix so a key built for one tenant can never name
another's object:
- `uploads/<tenant>/<upload id>.csv`: a client's presigned upload, until it is registered;
- `datasets/<tenant>/<dataset id>.csv`: validated bars, `timestamp_ms,open,high,low,close,volume`;
- `results/<tenant>/<backtest id>/trades.json` and `.../equity.npz`: a run's trades (columns) and
  its bar-close equity curve (int64 timestamps, float64 equity; numpy's .npz, uncompressed:
  zlib takes ~1 s of CPU for a year of minute bars to save ~5 MB, and CPU is what a job pays for).
Results always go to S3 (the row keeps the metrics and the prefix): a year of minute bars is far
above DynamoDB's 400 KB item limit, and one path is simpler than two.
- `history/<exchange>/<BASE_QUOTE>/<timeframe>/<start ms>-<end ms>.npz`: an exchange's public
  candles for a closed range (the `exchange` data source), shared by every job that asks for the
  same range, so a sweep pages through the exchange once, not once per combination. Public data:
  the one prefix not under a tenant.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from shared.aws_clients import aws_client
from shared.config import get_settings

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


def _s3() -> Any:
    return aws_client("s3", read_timeout=30, signature_version="s3v4")  # s3v4: presigned uploads


def _bucket() -> str:
    return get_settings().backtest_data_bucket


def upload_key(tenant_id: str, upload_id: str) -> str:
    return f"uploads/{tenant_id}/{upload_id}.csv"


def dataset_key(tenant_id: str, dataset_id: str) -> str:
    return f"datasets/{tenant_id}/{dataset_id}.csv"


def result_prefix(tenant_id: str, backtest_id: str) -> str:
    return f"results/{tenant_id}/{backtest_id}/"


def presigned_upload(key: str, *, max_bytes: int, expires_in: int) -> dict[str, Any]:
    """A presigned POST for exactly `key`, refusing bodies above `max_bytes` (S3 enforces it)."""
    post: dict[str, Any] = _s3().generate_presigned_post(
        Bucket=_bucket(),
        Key=key,
        Fields={"Content-Type": "text/csv"},
        Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": "text/csv"}],
        ExpiresIn=expires_in,
    )
    return post


def object_size(key: str) -> int | None:
    """The object's size in bytes, or None when there is no such object."""
    from botocore.exceptions import ClientError

    try:
        head = _s3().head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return int(head["ContentLength"])


def read_bytes(key: str) -> bytes:
    body: bytes = _s3().get_object(Bucket=_bucket(), Key=key)["Body"].read()
    return body


def write_bytes(key: str, data: bytes, content_type: str) -> None:
    _s3().put_object(Bucket=_bucket(), Key=key, Body=data, ContentType=content_type)


def delete(key: str) -> None:
    _s3().delete_object(Bucket=_bucket(), Key=key)


def history_key(exchange_id: str, symbol: str, timeframe: str, start_ms: int, end_ms: int) -> str:
    return f"history/{exchange_id}/{symbol.replace('/', '_')}/{timeframe}/{start_ms}-{end_ms}.npz"


def write_history(key: str, timestamps: npt.NDArray[np.int64], ohlcv: npt.NDArray[np.float64]) -> None:
    import numpy as np

    buffer = io.BytesIO()
    np.savez(buffer, timestamps=timestamps, ohlcv=ohlcv)
    write_bytes(key, buffer.getvalue(), "application/octet-stream")


def read_history(key: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]] | None:
    """The stored bars, or None when nothing is stored under `key`."""
    import numpy as np

    if object_size(key) is None:
        return None
    with np.load(io.BytesIO(read_bytes(key))) as data:
        return data["timestamps"], data["ohlcv"]


def write_results(
    prefix: str,
    trades: dict[str, list[Any]],
    timestamps: npt.NDArray[np.int64],
    equity: npt.NDArray[np.float64],
) -> None:
    import numpy as np

    write_bytes(prefix + "trades.json", json.dumps(trades, separators=(",", ":")).encode(), "application/json")
    buffer = io.BytesIO()
    np.savez(buffer, timestamps=timestamps, equity=equity)
    write_bytes(prefix + "equity.npz", buffer.getvalue(), "application/octet-stream")


def read_trades(prefix: str) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = json.loads(read_bytes(prefix + "trades.json"))
    return columns


def read_equity(prefix: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    import numpy as np

    with np.load(io.BytesIO(read_bytes(prefix + "equity.npz"))) as data:
        return data["timestamps"], data["equity"]
