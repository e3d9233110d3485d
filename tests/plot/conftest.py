import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def ax():
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    yield ax
    plt.close(fig)


@pytest.fixture
def polar_ax():
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100, subplot_kw={"projection": "polar"})
    yield ax
    plt.close(fig)


@pytest.fixture(autouse=True)
def _close_all():
    yield
    plt.close("all")
