"""Data: finding splits, readers (TSV/CSV/JSONL/JSON/CoNLL), records -> examples, label maps."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptrun.errors import PtrunError

import ptrun
from ptrun import registry
from ptrun import Record, read_records
from ptrun.data.reading import detect_format
from ptrun.data.splits import find_splits
from ptrun import LabelMap
from ptrun.plugins.ner import read_conll, to_iob2
from conftest import write


def _fmt(path) -> str:
    return Path(path).suffix.lstrip(".")


class Files(ptrun.Task):
    """A task that reads the given extensions (find_splits asks the task which files count)."""

    def __init__(self, *extensions):
        self.formats = {ext: ext.lstrip(".") for ext in extensions}


SENTIMENT_EXT = Files(".tsv", ".csv", ".jsonl", ".json")



@pytest.fixture
def sentiment():
    return registry.get_task("sentiment")


@pytest.fixture
def ner():
    return registry.get_task("ner")


# --------------------------------------------------------------------------- find_splits


@pytest.mark.parametrize("dev_name", ["dev.tsv", "validation.tsv", "valid.tsv", "val.tsv"])
def test_find_splits_by_name(tmp_path, dev_name):
    for name in ("train.tsv", dev_name, "test.tsv", "README.md", "notes.txt"):
        write(tmp_path / name, "text\tlabel\n")
    assert find_splits(tmp_path, SENTIMENT_EXT) == {
        "train": tmp_path / "train.tsv",
        "validation": tmp_path / dev_name,
        "test": tmp_path / "test.tsv",
    }


def test_find_splits_only_considers_task_extensions(tmp_path):
    write(tmp_path / "train.txt", "A O\n")
    write(tmp_path / "train.jsonl", "{}\n")
    assert find_splits(tmp_path, Files(".txt")) == {"train": tmp_path / "train.txt"}
    assert find_splits(tmp_path, SENTIMENT_EXT) == {"train": tmp_path / "train.jsonl"}


def test_find_splits_in_split_folders(tmp_path, capsys):
    # The DailyDialog layout: one folder per split, the dialogues beside their annotation files.
    for split in ("train", "validation", "test"):
        for name in (f"dialogues_{split}.txt", f"dialogues_act_{split}.txt", f"dialogues_emotion_{split}.txt"):
            write(tmp_path / split / name, "Hi . __eou__ Hello . __eou__\n")
    write(tmp_path / "readme.txt", "not data\n")
    assert find_splits(tmp_path, registry.get_task("dialogue")) == {
        split: tmp_path / split / f"dialogues_{split}.txt" for split in ("train", "validation", "test")
    }
    err = capsys.readouterr().err
    assert "using " + str(tmp_path / "train" / "dialogues_train.txt") in err
    assert "dialogues_act_train.txt, dialogues_emotion_train.txt" in err


def test_find_splits_split_folder_with_one_file_or_no_clear_choice(tmp_path):
    write(tmp_path / "one" / "dev" / "sst2-dev.tsv", "")
    assert find_splits(tmp_path / "one", SENTIMENT_EXT) == {"validation": tmp_path / "one" / "dev" / "sst2-dev.tsv"}
    write(tmp_path / "two" / "train" / "a.tsv", "")
    write(tmp_path / "two" / "train" / "b.tsv", "")
    with pytest.raises(ptrun.PtrunError) as info:
        find_splits(tmp_path / "two", SENTIMENT_EXT)
    assert "several files look like the train split (train/a.tsv, train/b.tsv)" in str(info.value)


def test_find_splits_prefers_files_over_split_folders(tmp_path):
    write(tmp_path / "train.tsv", "")
    write(tmp_path / "test" / "test.tsv", "")
    assert find_splits(tmp_path, SENTIMENT_EXT) == {"train": tmp_path / "train.tsv"}


def test_find_splits_ambiguous(tmp_path):
    write(tmp_path / "train.tsv", "")
    write(tmp_path / "dev.tsv", "")
    write(tmp_path / "validation.jsonl", "")
    with pytest.raises(ptrun.PtrunError) as info:
        find_splits(tmp_path, SENTIMENT_EXT)
    message = str(info.value)
    assert "several files look like the validation split" in message
    assert "dev.tsv" in message and "validation.jsonl" in message
    assert "--validation" in message


def test_find_splits_nothing_found(tmp_path):
    write(tmp_path / "data.tsv", "")
    with pytest.raises(ptrun.PtrunError, match="found no train/dev/test files"):
        find_splits(tmp_path, SENTIMENT_EXT)


def test_find_splits_not_a_directory(tmp_path):
    with pytest.raises(ptrun.PtrunError, match="no such directory"):
        find_splits(tmp_path / "absent", SENTIMENT_EXT)


def test_demo_data_is_found():
    for name in ("ner", "sentiment"):
        task = registry.get_task(name)
        assert set(find_splits(task.demo_data(), task)) == {"train", "validation", "test"}


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    "name, fmt",
    [("a.tsv", "tsv"), ("a.CSV", "csv"), ("a.jsonl", "jsonl"), ("a.json", "json"), ("a.txt", "conll"), ("a.bio", "conll")],
)
def test_detect_format(name, fmt, sentiment, ner):
    task = ner if fmt == "conll" else sentiment  # each task declares the formats it reads
    assert detect_format(Path(name), task.formats) == fmt


def test_detect_format_unknown_extension(tmp_path):
    path = write(tmp_path / "data.xyz", "x")
    with pytest.raises(ptrun.DataError, match="--format") as info:
        registry.get_task("sentiment").read(path)
    assert info.value.path == str(path)
    assert "'.xyz'" in info.value.message


def test_explicit_format_overrides_extension(tmp_path):
    path = write(tmp_path / "data.xyz", "text\tlabel\nfine\tpositive\n")
    (record,) = read_records(path, "tsv")
    assert record.fields == {"text": "fine", "label": "positive"}


def test_unknown_format(tmp_path):
    path = write(tmp_path / "data.tsv", "text\n")
    with pytest.raises(ptrun.DataError, match="no reader for format 'parquet'"):
        read_records(path, "parquet")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(ptrun.DataError, match="no such data file"):
        read_records(tmp_path / "absent.tsv", "tsv")
    with pytest.raises(ptrun.DataError, match="holds no examples"):
        read_records(write(tmp_path / "empty.tsv", "text\tlabel\n"), "tsv")
    with pytest.raises(ptrun.DataError, match="empty") as info:
        read_records(write(tmp_path / "nothing.tsv", ""), "tsv")
    assert info.value.line == 1


# --------------------------------------------------------------------------- TSV / CSV


def test_tsv_records_and_lines(tmp_path, sentiment):
    path = write(tmp_path / "d.tsv", 'text\tlabel\nsays "hi\tpositive\n\nplain\tnegative\n')
    examples = sentiment.read(path)
    assert [(e.fields["text"], e.fields["label"], e.line) for e in examples] == [
        ('says "hi', "positive", 2),  # a stray quote is text in TSV
        ("plain", "negative", 4),
    ]
    assert examples[0].id == "d-2"


def test_tsv_wrong_column_count(tmp_path):
    path = write(tmp_path / "bad.tsv", "text\tlabel\ngood\tpositive\n\nbad\tnegative\textra\n")
    with pytest.raises(ptrun.DataError) as info:
        read_records(path, _fmt(path))
    err = info.value
    assert (err.path, err.line) == (str(path), 4)
    assert str(err).startswith(f"{path}:4: expected 2 columns (text, label) but found 3")


def test_csv_quoting(tmp_path):
    path = write(tmp_path / "d.csv", 'text,label\n"good, really",positive\n')
    (record,) = read_records(path, _fmt(path))
    assert record.fields == {"text": "good, really", "label": "positive"}


# --------------------------------------------------------------------------- JSONL / JSON


def test_jsonl_invalid_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "a", "label": "x"}\n\n{"text": "b", label: 1}\n')
    with pytest.raises(ptrun.DataError) as info:
        read_records(path, _fmt(path))
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert "invalid JSON" in info.value.message


def test_jsonl_non_object_line(tmp_path):
    path = write(tmp_path / "bad.jsonl", '{"text": "a"}\n[1, 2]\n')
    with pytest.raises(ptrun.DataError, match="expected a JSON object, found list") as info:
        read_records(path, _fmt(path))
    assert info.value.line == 2


def test_missing_text_field_names_present_fields(tmp_path, sentiment):
    path = write(tmp_path / "nofield.jsonl", '{"text": "ok", "label": "positive"}\n{"body": "a", "label": "x"}\n')
    with pytest.raises(ptrun.DataError) as info:
        sentiment.read(path)
    err = info.value
    assert (err.path, err.line) == (str(path), 2)
    assert "missing text" in err.message
    assert "'text'" in err.message
    assert "fields present: body, label" in err.message


def test_missing_label_only_when_labeled(tmp_path, sentiment):
    path = write(tmp_path / "nolabel.jsonl", '{"text": "ok"}\n')
    with pytest.raises(ptrun.DataError, match="missing label"):
        sentiment.read(path)
    (ex,) = sentiment.read(path, labeled=False)
    assert ex.fields == {"text": "ok", "label": None}
    assert ex.labeled is False


def test_sentiment_from_record_alternative_fields(sentiment):
    ex = sentiment.from_record(Record({"review": "nice", "sentiment": 1, "id": "r7"}, "x.jsonl", 3))
    assert ex.id == "r7"
    assert ex.fields == {"text": "nice", "label": "1"}
    assert (ex.path, ex.line, ex.labeled) == ("x.jsonl", 3, True)


def test_json_list_and_wrapped(tmp_path):
    a = write(tmp_path / "a.json", '[{"text": "x"}, {"text": "y"}]')
    b = write(tmp_path / "b.json", '{"examples": [{"text": "z"}]}')
    assert [r.fields["text"] for r in read_records(a, _fmt(a))] == ["x", "y"]
    assert [r.line for r in read_records(a, _fmt(a))] == [1, 2]
    assert [r.fields["text"] for r in read_records(b, _fmt(b))] == ["z"]
    with pytest.raises(ptrun.DataError, match="expected a list of objects"):
        read_records(write(tmp_path / "c.json", '{"rows": []}'), "json")


# --------------------------------------------------------------------------- CoNLL


CONLL = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER
"""


def test_conll_docstart_and_sentence_breaks(tmp_path):
    path = write(tmp_path / "train.txt", CONLL)
    records = read_conll(path)
    assert [r.line for r in records] == [3, 8]
    assert records[0].fields["tokens"] == ["EU", "rejects", "German", "call"]
    assert records[0].fields["tags"] == ["I-ORG", "O", "I-MISC", "O"]  # raw, tag = last column


def test_conll_iob1_becomes_iob2(tmp_path, ner):
    path = write(tmp_path / "train.txt", CONLL)
    examples = ner.read(path)
    assert [e.fields["tags"] for e in examples] == [["B-ORG", "O", "B-MISC", "O"], ["B-PER", "I-PER"]]
    assert [e.id for e in examples] == ["train-3", "train-8"]


def test_docstart_without_blank_line_ends_sentence(tmp_path):
    path = write(tmp_path / "d.txt", "A B-PER\n-DOCSTART- O\nB B-LOC\n")
    assert [r.fields["tokens"] for r in read_conll(path)] == [["A"], ["B"]]


@pytest.mark.parametrize(
    "tags, expected",
    [
        (["I-PER", "I-PER", "I-LOC", "O", "I-ORG"], ["B-PER", "I-PER", "B-LOC", "O", "B-ORG"]),
        (["B-PER", "I-PER", "B-PER", "I-PER"], ["B-PER", "I-PER", "B-PER", "I-PER"]),
        (["O", "O"], ["O", "O"]),
        ([], []),
    ],
)
def test_to_iob2(tags, expected):
    assert to_iob2(tags) == expected


@pytest.mark.parametrize("bad", ["X-PER", "B-", "PER", "E-PER"])
def test_conll_bad_tag(tmp_path, bad):
    path = write(tmp_path / "bad.txt", f"Anna B-PER\n\nSven {bad}\n")
    with pytest.raises(ptrun.DataError) as info:
        read_conll(path)
    assert (info.value.path, info.value.line) == (str(path), 3)
    assert f"'{bad}' is not a BIO tag" in info.value.message


def test_conll_token_without_tag(tmp_path, ner):
    path = write(tmp_path / "bad.txt", "Anna B-PER\n\nSven B-PER\nlives\nhere O\n")
    with pytest.raises(ptrun.DataError) as info:
        ner.read(path)
    assert (info.value.path, info.value.line) == (str(path), 4)
    assert "'lives' has no tag column" in info.value.message


def test_conll_untagged_file(tmp_path, ner):
    path = write(tmp_path / "predict.txt", "Anna\nlives\n\nSven\n")
    with pytest.raises(ptrun.DataError) as info:
        ner.read(path)
    assert info.value.line == 1
    examples = ner.read(path, labeled=False)
    assert [{k: e.fields[k] for k in ("tokens", "tags")} for e in examples] == [{"tokens": ["Anna", "lives"], "tags": []}, {"tokens": ["Sven"], "tags": []}]
    assert examples[1].fields["prev_tokens"] == ["Anna", "lives"]  # one document: the neighbours are linked
    assert not any(e.labeled for e in examples)
    assert ner.reference(examples[0]) is None


def test_conll_partially_tagged_sentence_rejected_even_unlabeled(tmp_path, ner):
    path = write(tmp_path / "p.txt", "Anna B-PER\nlives\n")
    with pytest.raises(ptrun.DataError, match="while the rest of the sentence has tags") as info:
        ner.read(path, labeled=False)
    assert info.value.line == 2


# --------------------------------------------------------------------------- label maps


def test_label_map_numeric_labels_with_answer_choices():
    lm = LabelMap.for_classes(["0", "1"], {"negative": "terrible", "positive": "great"})
    assert lm.labels == ["negative", "positive"]
    assert lm.aliases == {"0": "negative", "1": "positive"}
    assert lm.canonical("0") == "negative" and lm.canonical(1) == "positive"
    assert lm.canonical("positive") == "positive"
    assert lm.canonical("2") is None
    assert lm.word("negative") == "terrible"
    assert "1" in lm and "neutral" not in lm


def test_label_map_named_labels_keep_answer_choice_order():
    lm = LabelMap.for_classes(["negative", "positive"], {"positive": "great", "negative": "bad"})
    assert lm.labels == ["positive", "negative"]
    assert lm.word("negative") == "bad"
    assert lm.aliases == {}


def test_label_map_refuses_data_labels_the_answer_choices_miss():
    with pytest.raises(PtrunError, match=r"\['neutral'\].*do not cover"):
        LabelMap.for_classes(["negative", "neutral", "positive"], {"positive": "great", "negative": "bad"})


def test_label_map_plain():
    lm = LabelMap.for_classes(["b", "a"])
    assert lm.labels == ["b", "a"] and lm.words == {} and lm.kind == "classes"
    assert lm.label2id == {"b": 0, "a": 1} and lm.id2label == {0: "b", 1: "a"}


def test_label_map_for_tags_orders_o_first():
    from ptrun.plugins.ner.conll import entity_types, tag_label_map

    lm = tag_label_map(["I-PER", "B-PER", "O", "I-LOC", "B-LOC", "B-MISC"])
    assert lm.labels == ["O", "B-LOC", "I-LOC", "B-MISC", "B-PER", "I-PER"]
    assert lm.kind == "tags"
    assert entity_types(lm) == ["LOC", "MISC", "PER"]
    assert tag_label_map(["B-X"]).labels == ["O", "B-X"]  # O even when the data has none


def test_label_map_validation():
    with pytest.raises(ptrun.PtrunError, match="duplicate"):
        LabelMap(["a", "a"])
    with pytest.raises(ptrun.PtrunError, match="unknown label"):
        LabelMap(["a"], words={"b": "x"})


def test_label_map_save_load(tmp_path):
    lm = LabelMap.for_classes(["0", "1"], {"neg": "bad", "pos": "good"})
    lm.save(tmp_path / "label_map.json")
    assert LabelMap.load(tmp_path / "label_map.json") == lm


def test_build_label_map_for_demo_data(sentiment, ner):
    from ptrun.prompts.templates import load_prompt
    from ptrun.run.setup import build_label_map

    train = find_splits(sentiment.demo_data(), sentiment)["train"]
    lm = build_label_map(sentiment, load_prompt("sentiment/cloze"), {"train": sentiment.read(train)})
    assert lm.labels == ["negative", "positive"]
    assert lm.words == {"negative": "terrible", "positive": "great"}

    train = find_splits(ner.demo_data(), ner)["train"]
    lm = build_label_map(ner, load_prompt("ner/default"), {"train": ner.read(train)})
    assert lm.kind == "tags" and lm.labels[0] == "O"
    from ptrun.plugins.ner.conll import entity_types

    assert set(entity_types(lm)) == {"LOC", "MISC", "ORG", "PER"}
