"""Edge labels sit clear of every node, in the yEd file and in what ``render`` draws
(issue 19): measured with ``geometry.labels_over_boxes`` on every sample."""

from __future__ import annotations

from pathlib import Path

import pytest
from geometry import label_rects, labels_over_boxes, read_picture
from graphml_documents import build_document

from modelexport.graphml import generate_graphml
from modelexport.graphml.picture import draw

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = sorted(p.name for p in (ROOT / "samples").iterdir() if (p / "config.json").exists())


def test_render_places_every_edge_label_off_the_boxes_it_draws() -> None:
    picture = draw(build_document(), "svg")
    assert picture.label_rects  # labels are drawn, where there is room
    assert labels_over_boxes(picture.label_rects, picture.box_rects) == []


@pytest.mark.slow  # the samples' exports
@pytest.mark.parametrize("sample", SAMPLES)
def test_no_edge_label_covers_a_node_in_the_file_or_the_picture_of_a_sample(sample, drawn):
    graphml, picture = drawn(sample)
    pic = read_picture(graphml.read_bytes())
    # labels go only where there is room: a fifth or more of the edges keep their dtype
    # and shape (24-28 % on bert, gpt2 and vit, whose rows sit close); none over a node,
    # on either side
    assert len(pic.edge_labels) >= 0.2 * len(pic.edges)
    assert labels_over_boxes(label_rects(pic), pic.leaves.values()) == []
    assert len(picture.label_rects) >= 0.2 * picture.edges
    assert labels_over_boxes(picture.label_rects, picture.box_rects) == []


def test_a_file_with_yed_markup_and_no_layout_leaves_label_placement_to_yed() -> None:
    from lxml import etree

    from modelexport.graphml import format as fmt

    ns = {"g": fmt.GRAPHML_NS, "y": fmt.YFILES_NS}
    root = etree.fromstring(generate_graphml(build_document(), yed=True, layout="none"))
    labels = root.xpath("//y:EdgeLabel", namespaces=ns)
    assert labels and {label.get("modelName") for label in labels} == {"side_slider"}
