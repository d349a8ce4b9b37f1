# The demo tells its story without the README: the summary explains its
# counts, the progress line keeps genuine, attack and flood frames apart,
# and the timeline has legends, a labelled threshold, shaded episodes,
# rejections by attack kind (flood included) and a key pool that moves.
import pytest

from emulator import scenario
from emulator.report import progress_line, summary_text, timeline_figure
from emulator.vehicle import Vehicle


@pytest.fixture(scope="module")
def demo():
    v = Vehicle(scenario.load(scenario.DEFAULT), inline_only=True)
    return v, v.run()


def test_the_summary_explains_its_counts(demo):
    v, s = demo
    text = summary_text(s)
    assert "%d receptions verified (each PDU has 1 to 3 receivers)" % s["frames_verified"] in text
    assert s["frames_verified"] > s["frames_sent"]
    assert "%d deliveries lost (a frame that one receiver did not get, from the scenario's loss and " \
           "bit-error faults; never judged)" % s["lost_deliveries"] in text
    assert "flood   0x0              500 frames, 0 accepted; not SecOC PDUs: no ECU judges them" in text
    assert "above the 11% abort threshold (no new keys meanwhile)" in text
    assert "key pool %d of 6 keys at the end" % s["key_pool"] in text
    line = progress_line(v)
    assert "genuine: %d verified, 0 rejected" % s["frames_verified"] in line
    # Each attack frame has 2 or 3 receivers; the scenario's 0.1% loss takes a few.
    rejections = sum(sum(a["rejected_by_reason"].values()) for a in s["attacks"])
    assert 470 <= rejections <= 480
    assert "attack frames: 180 sent, 0 accepted, %d rejections, flood 500" % rejections in line


def test_the_timeline_reads_without_the_readme(demo):
    v, s = demo
    fig = timeline_figure(v)
    pool, qber, epoch, rejections = fig.axes[:4]
    for ax in (pool, qber, epoch, rejections):
        assert ax.get_legend() is not None
    labels = [t.get_text() for t in qber.get_legend().get_texts()]
    assert "11 % abort threshold: no new keys above" in labels
    shaded = [p for p in pool.patches]  # axvspan: 4 attacks, the eavesdropper, the alarm
    assert len(shaded) == len(s["attacks"]) + 1 + 1
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert {"attacks", "eavesdropper on the QKD link", "QKD alarm: no new keys, the current key stays"} <= set(texts)
    kinds = [t.get_text() for t in rejections.get_legend().get_texts()]
    for a in s["attacks"]:
        assert any(k.startswith(a["kind"]) for k in kinds), (a["kind"], kinds)
    assert "genuine frames rejected" in kinds
    levels = set(pool.lines[0].get_ydata())
    assert min(levels) < max(levels) <= 6  # keys drawn and refilled in a small pool
    assert pool.get_ylim()[1] < 8
