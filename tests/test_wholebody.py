import pytest

from pipeline.data.wholebody import PRESETS, get_preset, wholebody_parents


def _is_tree(parents):
    roots = [k for k, p in enumerate(parents) if p < 0]
    if len(roots) != 1:
        return False
    for k in range(len(parents)):
        seen, node = set(), k
        while parents[node] >= 0:
            if node in seen:
                return False
            seen.add(node)
            node = parents[node]
    return True


def test_gspmc87_parts_match_the_paper():
    p = get_preset("gspmc87")
    assert p.num_points == 87
    assert {k: len(v) for k, v in p.parts.items()} == {
        "body": 15, "left_hand": 21, "right_hand": 21, "mouth": 10, "face": 20}


@pytest.mark.parametrize("name,size", [("sam27", 27), ("masa49", 49), ("cosign76", 76), ("all133", 133)])
def test_preset_sizes(name, size):
    assert get_preset(name).num_points == size


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_preset_is_one_tree(name):
    p = get_preset(name)
    assert _is_tree(p.parents)
    assert len(p.edges) == p.num_points - 1


def test_hands_hang_off_their_own_wrists():
    parents = wholebody_parents()
    assert parents[91] == 9 and parents[112] == 10      # left hand root -> left wrist
    assert parents[92] == 91 and parents[96] == 91      # thumb and index start at the hand root
    p = get_preset("gspmc87")
    lw = p.indices.index(9)
    assert p.parents[p.indices.index(91)] == lw


def test_sam27_reroots_fingers_onto_kept_points():
    p = get_preset("sam27")
    # 95 (thumb tip) keeps 91 (hand root) as its nearest kept ancestor
    assert p.indices[p.parents[p.indices.index(95)]] == 91


def test_unknown_preset_names_it():
    with pytest.raises(KeyError, match="gspmc88"):
        get_preset("gspmc88")
