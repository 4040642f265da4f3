"""xlcli fuse, bad input: one `Error:` line on stderr, exit 2, no traceback, every row unchanged."""

from __future__ import annotations

import fused_store
import pytest
from conftest import assert_refused, small_locomo, snapshot


@pytest.fixture(scope="module")
def base(tmp_path_factory, tiny_bert):
    cli = fused_store.build(tmp_path_factory.mktemp("fuse-bad"), tiny_bert)
    cli("index", "--name", "noeval", "--bm25")
    cli("index", "--name", "only-de", "--bm25")
    cli("index", "--name", "only-es", "--bm25")
    cli("eval", "--index", "only-de", "--langs", "de", "--variants", "none", "--measures", "R@10")
    cli("eval", "--index", "only-es", "--langs", "es", "--variants", "none", "--measures", "R@10")
    other = cli.db.parent / "other.json"
    import json
    other.write_text(json.dumps(small_locomo()), encoding="utf-8")
    cli("ingest", "locomo", other, "--name", "other", "--test-conversations", "conv-b")
    cli("index", "--name", "other-bm", "--bm25", "--dataset", "other")
    cli("eval", "--index", "other-bm", "--measures", "R@10", "--variants", "none")
    cli("fuse", "--name", "hyb", "--systems", "bm,tiny")
    return cli


@pytest.fixture
def cli(base, tmp_path):
    return fused_store.copy(base, tmp_path / "copy")


CASES = {
    "unknown system": (["--systems", "bm,nope"], "no system 'nope'"),
    "one system": (["--systems", "bm"], "at least two distinct systems"),
    "different datasets": (["--systems", "bm,other-bm"], "different datasets"),
    "weights count": (["--systems", "bm,tiny", "--method", "wsum", "--weights", "1,2,3"], "3 weights for 2 systems"),
    "weights not numbers": (["--systems", "bm,tiny", "--method", "wsum", "--weights", "1,x"], "comma-separated numbers"),
    "negative weight": (["--systems", "bm,tiny", "--method", "wsum", "--weights", "1,-1"], "non-negative"),
    "weights on an unweighted method": (["--systems", "bm,tiny", "--method", "combsum", "--weights", "1,1"], "takes no weights"),
    "k zero": (["--systems", "bm,tiny", "--k", "0"], "k 0: must be at least 1"),
    "k negative": (["--systems", "bm,tiny", "--k", "-5"], "k -5: must be at least 1"),
    "k on a score method": (["--systems", "bm,tiny", "--method", "wsum", "--k", "10"], "only rank-based methods take k"),
    "unknown method": (["--systems", "bm,tiny", "--method", "borda"], "unknown fusion method"),
    "unknown norm": (["--systems", "bm,tiny", "--method", "combsum", "--norm", "rank"], "unknown normalisation"),
    "norm with rrf": (["--systems", "bm,tiny", "--norm", "minmax"], "fuses ranks"),
    "depth zero": (["--systems", "bm,tiny", "--depth", "0"], "depth 0: must be at least 1"),
    "depth absurd": (["--systems", "bm,tiny", "--depth", "10000000"], "depth 10000000: must be at most"),
    "k absurd": (["--systems", "bm,tiny", "--k", "10000000"], "k 10000000: must be at most"),
    "input without runs": (["--systems", "bm,noeval"], "xlcli eval --index noeval"),
    "input not deep enough": (["--systems", "bm,tiny", "--depth", "500"], "--depth 500"),
    "no shared language and condition": (["--systems", "only-de,only-es"], "no (language, condition) is shared"),
    "language missing in one input": (["--systems", "bm,only-de", "--langs", "es"], "'only-de' has no es runs"),
    "split without runs": (["--systems", "bm,tiny", "--split", "validation"], "no eval runs of split 'validation'"),
    "name used with other parameters": (["--systems", "bm,tiny", "--method", "combsum"], "already used for a fusion"),
    "name of an index": (["--systems", "tiny,only-de"], "an index has that name"),
    "itself as input": (["--systems", "bm,hyb"], "cannot be one of its own inputs"),
    "nothing to optimise": (["--systems", "bm,tiny", "--method", "combsum", "--optimize-on", "train"], "no parameter to fit"),
    "weights and optimisation": (["--systems", "bm,tiny", "--method", "wsum", "--weights", "1,1", "--optimize-on", "train"], "not both"),
    "unknown optimisation measure": (["--systems", "bm,tiny", "--optimize-on", "train", "--opt-measure", "F1"], "unknown measure"),
    "unknown optimisation split": (["--systems", "bm,tiny", "--optimize-on", "dev", "--allow-leakage"], "no such split"),
}
NAMES = {"name of an index": "bm", "name used with other parameters": "hyb", "itself as input": "hyb"}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_error_line_exit_2_store_unchanged(cli, case):
    args, message = CASES[case]
    before = snapshot(cli.db)
    result = cli("fuse", "--name", NAMES.get(case, "new"), *args, ok=False)
    assert_refused(result, cli.db, before, message)
