import json
from datetime import UTC, datetime, timedelta

import pytest
from river.time_series.base import Forecaster

from models.forecast_eval import evaluate, flash_sale_traffic
from models.forecasting import BucketAggregator, DemandForecaster, LogETS, SeasonalNaive

T0 = datetime(2024, 11, 11, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_buckets_close_in_order_with_empty_ones_and_tolerate_disorder() -> None:
    agg = BucketAggregator(bucket_seconds=60)
    assert agg.add(at(0.9), 1) == [] and agg.add(at(0.1), 2) == []  # out of order inside the bucket
    closed = agg.add(at(3.5), 4)
    assert [(b.start, b.units) for b in closed] == [(at(0), 3.0), (at(1), 0.0), (at(2), 0.0)]
    assert agg.add(at(1.5), 5) == [] and agg.late_events == 1  # late: kept in the open bucket, not lost
    assert agg.advance(at(4)) == [(at(3), 9.0)]


def test_allowed_lateness_delays_closing_and_state_survives_json() -> None:
    agg = BucketAggregator(bucket_seconds=60, allowed_lateness_seconds=30)
    agg.add(at(0), 1)
    assert agg.advance(at(1.4)) == []
    agg = BucketAggregator.from_dict(json.loads(json.dumps(agg.to_dict())))
    agg.add(at(0.5), 1)  # within the lateness: still counted in its own bucket
    assert agg.advance(at(1.5)) == [(at(0), 2.0)] and agg.late_events == 0


def test_log_ets_beats_seasonal_naive_on_flash_sale_traffic() -> None:
    y = flash_sale_traffic(hours=24, seed=7)  # settings were picked on seeds 100+
    ets = evaluate(y, LogETS(season=60), horizon=15, warmup=120)
    naive = evaluate(y, SeasonalNaive(60), horizon=15, warmup=120)
    assert ets.mae_h < naive.mae_h and ets.mae_1 < naive.mae_1


@pytest.mark.parametrize("model", [LogETS(season=60), SeasonalNaive(60)], ids=["ets", "seasonal-naive"])
def test_band_widens_with_service_level_and_state_is_small(model: Forecaster) -> None:
    f = DemandForecaster(model=model)
    for y in flash_sale_traffic(hours=3, seed=3):
        f.learn_one(y)
    assert min(f.forecast(120)) >= 0
    qs = [f.demand_quantile(15, sl) for sl in (0.5, 0.9, 0.99)]
    assert qs == sorted(qs) and qs[0] < qs[-1]
    lo, hi = f.interval(15, 0.9)
    assert lo < sum(f.forecast(15)) < hi
    blob = f.to_bytes()
    assert len(blob) < 8_000
    assert DemandForecaster.from_bytes(blob).forecast(30) == pytest.approx(f.forecast(30))
