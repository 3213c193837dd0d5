"""Progress bars: on (after a delay, not in log files) unless DRAGNB_PROGRESS=0."""
from dragnb import progress as p


def test_bars_are_off_with_the_environment_switch_and_on_otherwise(monkeypatch):
    items = [1, 2, 3]
    monkeypatch.setenv("DRAGNB_PROGRESS", "0")
    assert p.progress(items, "inversion") is items
    monkeypatch.setenv("DRAGNB_PROGRESS", "1")
    calls = []
    monkeypatch.setattr(p, "tqdm", lambda it, **kw: calls.append(kw) or it)
    assert list(p.progress(items, "inversion")) == items
    assert calls == [dict(desc="inversion", total=None, delay=p.DELAY, leave=False, disable=None)] and p.DELAY > 0


def test_bars_are_off_outside_the_main_thread(monkeypatch):
    import threading

    monkeypatch.setenv("DRAGNB_PROGRESS", "1")
    monkeypatch.setattr(p, "tqdm", lambda it, **kw: ("bar", it))
    items, got = [1, 2], []
    t = threading.Thread(target=lambda: got.append(p.progress(items, "inversion")))
    t.start()
    t.join()
    assert got == [items] and p.progress(items, "inversion") == ("bar", items)
