"""Generators of ptrun's built-in demo data (plugins/demo/), one module per dataset.

* ``ner``       plugins/demo/ner/{train,dev,test}.txt        CoNLL columns, IOB2 PER/LOC/ORG/MISC
* ``sentiment`` plugins/demo/sentiment/{train,dev,test}.tsv  ``text<TAB>label``, negative/positive
* ``qa``        plugins/demo/qa/{train,dev,test}.json        SQuAD layout, extractive
* ``dialogue``  plugins/demo/dialogue/{train,dev,test}.jsonl ``{"id", "persona", "messages"}``
* ``common``    what they share (writing files, splitting, name lists)

Each dataset module has ``build() -> {file name: text}`` and ``write(out_dir=None)``, and runs
as a script (``python3 tools/demo_data/ner.py``); ``python3 tools/demo_data`` regenerates all
four. The third-party example's intent data has its own generator,
examples/ptrun-intent/tools/make_data.py. All text is composed from word lists in these files
(no third-party dataset text), deterministically: tests/test_demo_data.py checks that the
shipped files are byte for byte what the generators write.

Only the Python standard library is used. To import the modules, put tools/ on ``sys.path``
(``from demo_data import ner``).
"""
