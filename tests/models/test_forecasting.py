from datetime import UTC, datetime, timedelta

import msgpack
import pytest
from river.time_series.base import Forecaster

from models.forecast.demand import DemandForecaster, LogETS, SeasonalNaive
from models.forecast.evaluation import evaluate, flash_sale_traffic

T0 = datetime(2024, 11, 11, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


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
    qs = [f.demand_quantile(15, sl) for sl in (0.5, 0.9, 0.99)]
    assert qs == sorted(qs) and qs[0] < qs[-1]
    lo, hi = f.interval(15, 0.9)
    assert lo < sum(f.forecast(15)) < hi
    blob = msgpack.packb(f.to_state())
    assert len(blob) < 8_000
    restored = DemandForecaster.from_state(msgpack.unpackb(blob))
    assert restored.forecast(30) == f.forecast(30) and restored.interval(15, 0.9) == (lo, hi)


class Falling(Forecaster):
    """A model whose raw forecast goes below zero (a trend fitted to a falling series)."""

    def learn_one(self, y: float, x: dict | None = None) -> None:
        pass

    def forecast(self, horizon: int, xs: list[dict] | None = None) -> list[float]:
        return [2.0 - h for h in range(horizon)]


def test_forecasts_are_clipped_at_zero_where_the_model_goes_negative() -> None:
    f = DemandForecaster(model=Falling(), max_horizon=8)
    assert f.forecast(5) == [2.0, 1.0, 0.0, 0.0, 0.0]
    assert f.forecast(10)[-1] == 0.0  # beyond the cached horizon too


def test_a_model_without_plain_state_is_refused_not_pickled() -> None:
    with pytest.raises(TypeError, match="Falling has no plain state"):
        DemandForecaster(model=Falling()).to_state()
