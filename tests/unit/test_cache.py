"""The situation cache: latest per uid, expiry by stale time, bounded size."""

from rallypoint.cot.event import Event
from rallypoint.router.cache import SituationCache
from rallypoint.router.message import Outbound

GROUPS = frozenset({"__ANON__"})


def _message(uid: str, time: int, stale: int) -> Outbound:
    return Outbound(Event(uid=uid, type="a-f-G", how="m-g", time=time, start=time, stale=stale))


def test_latest_time_wins() -> None:
    cache = SituationCache()
    assert cache.put(_message("A", 100, 1000), GROUPS, 1, now_ms=100)
    assert not cache.put(_message("A", 50, 2000), GROUPS, 1, now_ms=100)
    entry = cache.get("A")
    assert entry is not None
    assert entry.message.event.time == 100


def test_already_stale_is_not_kept() -> None:
    cache = SituationCache()
    assert not cache.put(_message("A", 100, 100), GROUPS, 1, now_ms=200)
    assert len(cache) == 0


def test_updates_extend_life_and_expire_at_the_last_stale() -> None:
    cache = SituationCache()
    for second in range(10):
        cache.put(_message("A", second * 1000, second * 1000 + 5000), GROUPS, 1, now_ms=second * 1000)
    assert cache.expire(6_000) == []
    assert cache.expire(13_999) == []
    assert cache.expire(14_000) == ["A"]
    assert "A" not in cache


def test_heap_does_not_grow_with_updates() -> None:
    cache = SituationCache()
    for second in range(1000):
        cache.put(_message("A", second, second + 5000), GROUPS, 1, now_ms=second)
    assert len(cache._expiry) == 1


def test_removed_then_added_again_expires_at_its_new_time() -> None:
    cache = SituationCache()
    cache.put(_message("A", 0, 10_000), GROUPS, 1, now_ms=0)
    cache.remove("A")
    cache.put(_message("A", 1, 20_000), GROUPS, 1, now_ms=1)
    assert cache.expire(10_000) == []
    assert "A" in cache
    assert cache.expire(20_000) == ["A"]


def test_max_ttl_caps_absurd_stale_times() -> None:
    cache = SituationCache(max_ttl_ms=1000)
    cache.put(_message("A", 0, 10**12), GROUPS, 1, now_ms=0)
    assert cache.expire(1000) == ["A"]


def test_full_cache_refuses_new_uids_and_keeps_what_it_has() -> None:
    cache = SituationCache(max_entries=2)
    assert cache.put(_message("long", 0, 9000), GROUPS, 1, now_ms=0)
    assert cache.put(_message("short", 0, 1000), GROUPS, 1, now_ms=0)
    assert not cache.put(_message("new", 0, 5000), GROUPS, 1, now_ms=0)
    assert sorted(uid for uid in ("long", "short", "new") if uid in cache) == ["long", "short"]
    assert cache.put(_message("short", 10, 2000), GROUPS, 1, now_ms=0), "updates still land"
    assert cache.refused == 1


def test_a_group_or_owner_at_its_share_cannot_push_out_another() -> None:
    cache = SituationCache(max_entries=10, max_per_group=3, max_per_owner=2)
    other = frozenset({"other"})
    assert cache.put(_message("victim", 0, 9000), other, 9, now_ms=0, owner="victim")
    flood = [cache.put(_message(f"f{n}", 0, 9000), GROUPS, 1, now_ms=0, owner=f"o{n // 2}") for n in range(6)]
    assert flood == [True, True, True, False, False, False]  # the group's share is 3
    assert not cache.put(_message("g", 0, 9000), frozenset({"third"}), 1, now_ms=0, owner="o0"), "owner full"
    assert "victim" in cache
    cache.remove("f0")
    assert cache.put(_message("f9", 0, 9000), GROUPS, 1, now_ms=0, owner="o9"), "a removal frees its share"
    assert sorted(cache.expire(9000)) == ["f1", "f2", "f9", "victim"]
    assert cache.put(_message("f0", 9000, 20000), GROUPS, 1, now_ms=9000, owner="o0"), "expiry frees shares"


def test_visibility_by_group_and_own_uid() -> None:
    cache = SituationCache()
    cache.put(_message("red", 0, 9000), frozenset({"red"}), 1, now_ms=0)
    cache.put(_message("blue", 0, 9000), frozenset({"blue"}), 2, now_ms=0)
    visible = [m.event.uid for m in cache.visible_to(frozenset({"red"}), now_ms=1)]
    assert visible == ["red"]
    assert list(cache.visible_to(frozenset({"red"}), now_ms=1, skip_uid="red")) == []
