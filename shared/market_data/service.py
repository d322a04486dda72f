"""Dataset use cases: upload a CSV (in the request, or to S3 through a presigned POST and then
registered), list, read, delete. Datasets are tenant-private: every key and row sits under the
caller's tenant, and another tenant's dataset answers 404 like a missing one."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.auth.principal import Principal
from shared.backtest import records, storage
from shared.backtest.records import DatasetRecord
from shared.clock import isoformat, utc_now
from shared.config import get_settings
from shared.errors import NotFound, PayloadTooLarge, ValidationFailed
from shared.ids import new_id, new_ulid
from shared.inputs import Name, RequestModel
from shared.market_data.csv_format import parse_csv
from shared.pagination import decode_cursor, encode_cursor
from shared.strategies.quantities import Timeframe

UPLOAD_URL_SECONDS = 900


class DatasetMeta(RequestModel):
    """What the CSV does not say: a name, the market, and optionally the timeframe (else inferred)."""

    model_config = ConfigDict(frozen=True)

    name: Name
    symbol: str = Field(min_length=3, max_length=32, pattern=r"^[A-Z0-9]{1,15}/[A-Z0-9]{1,15}$")
    timeframe: Timeframe | None = None


class DatasetOut(BaseModel):
    id: str
    name: str
    symbol: str
    timeframe: str
    bars: int
    first_ms: int = Field(description="Open time of the first bar, epoch ms.")
    last_ms: int = Field(description="Open time of the last bar, epoch ms.")
    gap_count: int = Field(description="Places where bars are further apart than the timeframe (not filled).")
    gaps: list[dict[str, int]] = Field(description="The first 100 gaps: line, after_ms, next_ms, missing_bars.")
    created_at: str


class DatasetList(BaseModel):
    items: list[DatasetOut]
    next_cursor: str | None = None


class UploadOut(BaseModel):
    """POST the file to `url` as multipart form data with `fields` plus `file`, then call
    POST /market-data/uploads/{upload_id}/complete."""

    upload_id: str
    url: str
    fields: dict[str, str]
    max_bytes: int
    expires_in_seconds: int


def _not_found(dataset_id: str) -> NotFound:
    return NotFound("no such dataset", details={"id": dataset_id})


def to_out(record: DatasetRecord) -> DatasetOut:
    return DatasetOut(
        id=record.item_id,
        name=record.name,
        symbol=record.symbol,
        timeframe=record.timeframe,
        bars=int(record.bars),
        first_ms=int(record.first_ms),
        last_ms=int(record.last_ms),
        gap_count=int(record.gaps or 0),
        gaps=json.loads(record.gaps_json),
        created_at=isoformat(record.created_at),
    )


def _store(caller: Principal, data: bytes, meta: DatasetMeta) -> DatasetOut:
    parsed = parse_csv(data, meta.timeframe)
    cap = get_settings().backtest_max_bars
    if len(parsed.bars) > cap:
        raise ValidationFailed(
            f"the CSV holds {len(parsed.bars)} bars; at most {cap} per dataset", code="too_many_bars"
        )
    dataset_id = new_id("ds")
    key = storage.dataset_key(caller.tenant_id, dataset_id)
    storage.write_bytes(key, parsed.normalized(), "text/csv")
    record = DatasetRecord(
        tenant_id=caller.tenant_id,
        item_id=dataset_id,
        created_at=utc_now(),
        name=meta.name,
        symbol=meta.symbol,
        timeframe=parsed.timeframe,
        bars=len(parsed.bars),
        first_ms=parsed.bars[0][0],
        last_ms=parsed.bars[-1][0],
        gaps=parsed.gap_count,
        gaps_json=json.dumps(parsed.gaps),
        object_key=key,
    )
    record.save(condition=DatasetRecord.item_id.does_not_exist())
    return to_out(record)


def upload_csv(caller: Principal, data: bytes, meta: DatasetMeta) -> DatasetOut:
    """A CSV sent in the request body (up to the API's body limit)."""
    return _store(caller, data, meta)


def start_upload(caller: Principal) -> UploadOut:
    """A presigned POST for a larger file, to the caller's own upload key."""
    upload_id = f"up_{new_ulid()}"
    limit = get_settings().market_data_max_upload_bytes
    post: dict[str, Any] = storage.presigned_upload(
        storage.upload_key(caller.tenant_id, upload_id), max_bytes=limit, expires_in=UPLOAD_URL_SECONDS
    )
    return UploadOut(
        upload_id=upload_id,
        url=post["url"],
        fields={k: str(v) for k, v in post["fields"].items()},
        max_bytes=limit,
        expires_in_seconds=UPLOAD_URL_SECONDS,
    )


def complete_upload(caller: Principal, upload_id: str, meta: DatasetMeta) -> DatasetOut:
    """Validate an uploaded file and register it as a dataset; the raw upload is then removed."""
    key = storage.upload_key(caller.tenant_id, upload_id)
    size = storage.object_size(key)
    if size is None:
        raise NotFound("no such upload (or it was already registered)", details={"id": upload_id})
    limit = get_settings().market_data_max_upload_bytes
    if size > limit:
        storage.delete(key)
        raise PayloadTooLarge(f"the upload exceeds {limit} bytes", details={"limit_bytes": limit})
    out = _store(caller, storage.read_bytes(key), meta)
    storage.delete(key)
    return out


def read_dataset(caller: Principal, dataset_id: str) -> DatasetOut:
    record = records.get_dataset(caller.tenant_id, dataset_id)
    if record is None:
        raise _not_found(dataset_id)
    return to_out(record)


def list_datasets(caller: Principal, *, limit: int, cursor: str | None) -> DatasetList:
    after = decode_cursor("datasets", cursor) if cursor else None
    rows, more = records.list_datasets(caller.tenant_id, limit=limit, after=after)
    next_cursor = encode_cursor("datasets", rows[-1].item_id) if more and rows else None
    return DatasetList(items=[to_out(row) for row in rows], next_cursor=next_cursor)


def delete_dataset(caller: Principal, dataset_id: str) -> None:
    """Remove the row, then the bars (a queued backtest on it then fails with a clear reason)."""
    record = records.get_dataset(caller.tenant_id, dataset_id)
    if record is None:
        raise _not_found(dataset_id)
    record.delete()
    storage.delete(record.object_key)
