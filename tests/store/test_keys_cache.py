"""Verified keys are remembered for a moment (every ingest request checks one); revoking still bites at once."""

import pytest

from wayfare.errors import AuthError
from wayfare.store import Store, create_key, revoke_key, verify_key


def test_verify_key_cached_until_revoked(tmp_path):
    with Store(tmp_path / "k.db") as s:
        k = create_key(s, "default", "ingest")
        info = verify_key(s, k["key"])
        assert info.key_id == k["key_id"] and len(s.key_cache) == 1
        assert verify_key(s, k["key"]) == info  # from the cache
        with pytest.raises(AuthError, match="admin key is needed"):
            verify_key(s, k["key"], need="admin")  # the scope is checked on cached keys too
        revoke_key(s, "default", k["key_id"])
        with pytest.raises(AuthError, match="revoked"):
            verify_key(s, k["key"])
        with pytest.raises(AuthError, match="unknown"):
            verify_key(s, "wf_ingest_not-a-key")
        assert s.key_cache == {}  # unknown and revoked keys are never remembered
