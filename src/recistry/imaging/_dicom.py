"""Fast reading of the DICOM header attributes recistry needs, and where the pixel bytes are.

pydicom parses every element of a header into Python objects (about 0.7 ms for a CT slice); indexing
a tree of 10,000 files and stacking a 300-slice series only need a few dozen attributes. This module
walks the encoded elements of little-endian files (explicit or implicit VR, the transfer syntaxes of
nearly every archive) without decoding the ones it does not need, and records the file offset of
Pixel Data so slices are read straight into the output array. Anything it does not handle (big
endian, deflated, no preamble) goes through pydicom instead, with the same result; the tests check
that both paths agree on pydicom's own test files.

Reference: DICOM PS3.5 §7.1 (data element encoding), §7.5 (nesting of sequences and items),
PS3.10 §7.1 (preamble, "DICM" prefix and file meta information).
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from struct import Struct, unpack_from
from typing import Any

import pydicom
from pydicom.charset import convert_encodings, decode_bytes
from pydicom.datadict import dictionary_VM, dictionary_VR, tag_for_keyword
from pydicom.errors import InvalidDicomError

from recistry.errors import DicomError

logger = logging.getLogger(__name__)

#: Transfer syntaxes whose data set is explicit VR little endian (the native one and every
#: encapsulated/compressed syntax); implicit VR little endian is handled too.
IMPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
_NOT_LITTLE_ENDIAN = frozenset({"1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"})
#: Transfer syntaxes whose Pixel Data is native (not encapsulated) and can be read raw.
NATIVE_TRANSFER_SYNTAXES = frozenset({IMPLICIT_VR_LITTLE_ENDIAN, EXPLICIT_VR_LITTLE_ENDIAN})

MEDIA_STORAGE_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR

_PIXEL_DATA = 0x7FE00010
_ITEM = 0xFFFEE000
_ITEM_END = 0xFFFEE00D
_SEQUENCE_END = 0xFFFEE0DD
_UNDEFINED = 0xFFFFFFFF
_LONG_VRS = frozenset(
    {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
)
_SHORT_VRS = frozenset(
    {
        b"AE",
        b"AS",
        b"AT",
        b"CS",
        b"DA",
        b"DS",
        b"DT",
        b"FD",
        b"FL",
        b"IS",
        b"LO",
        b"LT",
        b"PN",
        b"SH",
        b"SL",
        b"SS",
        b"ST",
        b"TM",
        b"UI",
        b"UL",
        b"US",
    }
)
_FIRST_READ = 16384
_CHARSET_VRS = frozenset({"LO", "LT", "PN", "SH", "ST", "UC", "UT"})


def tag_label(keyword: str) -> str:
    """``"PixelSpacing (0028,0030)"``: how error messages name an attribute."""
    tag = tag_for_keyword(keyword.split(".")[-1])
    if tag is None:
        return keyword
    return f"{keyword} ({tag >> 16:04X},{tag & 0xFFFF:04X})"


class NotDicomFileError(DicomError):
    """The file is not DICOM at all (as opposed to a damaged DICOM file)."""


class _NeedMore(Exception):
    """The walk reached the end of the bytes read so far."""


class _Malformed(Exception):
    """The bytes are not a valid little-endian DICOM data set."""


@dataclass(frozen=True, slots=True)
class Header:
    """The requested attributes of one DICOM file, decoded, and where its pixels are.

    Attributes
    ----------
    path
        The file.
    values
        Keyword (or dotted path into the first item of a sequence, e.g.
        ``"RadiopharmaceuticalInformationSequence.RadionuclideHalfLife"``) to value: ``str`` for
        text, ``tuple[float, ...]`` for DS, ``tuple[int, ...]`` for IS/US/SS/UL, absent when the
        element is absent or empty. Multi-valued text (CS) is a ``tuple[str, ...]``.
    private
        Raw values of the elements of the requested private groups, by tag number, text decoded
        as ASCII (private creators included), so callers can resolve private blocks.
    transfer_syntax_uid
        The file's transfer syntax.
    pixel_offset, pixel_length
        Byte offset and length of the Pixel Data value (of this frame) when it is native (not
        encapsulated) and was located by the fast path; ``None`` otherwise.
    frame
        For one frame of a multi-frame image, its 0-based index in the file; ``None`` for a
        single-frame file.
    """

    path: str
    values: Mapping[str, Any]
    private: Mapping[int, str]
    transfer_syntax_uid: str
    pixel_offset: int | None
    pixel_length: int | None
    frame: int | None = None

    @property
    def location(self) -> str:
        """How messages name where the header came from: the file, and the frame (1-based, as
        DICOM numbers frames) of a multi-frame image."""
        return self.path if self.frame is None else f"{self.path} (frame {self.frame + 1})"

    def get(self, keyword: str, default: Any = None) -> Any:
        return self.values.get(keyword, default)

    def require(self, keyword: str) -> Any:
        """The value of ``keyword``, or a :class:`DicomError` naming the file and the tag."""
        value = self.values.get(keyword)
        if value is None or value == "" or value == ():
            raise DicomError(
                "required attribute is missing or empty", path=self.path, tag=tag_label(keyword)
            )
        return value

    def same(self, other: Header, keyword: str) -> bool:
        """Whether two headers hold the same value of ``keyword`` (identical bytes, or equal
        decoded values)."""
        mine, theirs = self.values, other.values
        if (
            isinstance(mine, _SeriesValues)
            and isinstance(theirs, _SeriesValues)
            and mine.base is theirs.base
        ):
            root = keyword.split(".", 1)[0]
            if root not in mine.varying and root not in theirs.varying:
                return True  # both files hold the first file's bytes
        raw_kinds = (_LazyValues, _SeriesValues)
        if isinstance(mine, raw_kinds) and isinstance(theirs, raw_kinds) and "." not in keyword:
            a, b = mine.raw(keyword), theirs.raw(keyword)
            if a == b:
                return True
        return bool(mine.get(keyword) == theirs.get(keyword))

    def first(self, keyword: str) -> Any:
        """First value of a multi-valued numeric attribute, or ``None``."""
        value = self.values.get(keyword)
        if isinstance(value, tuple):
            return value[0] if value else None
        return value


class HeaderSpec:
    """A compiled set of attributes to read: top-level keywords and paths into sequences."""

    def __init__(
        self,
        keywords: Iterable[str],
        private_groups: Iterable[int] = (),
        *,
        lazy: bool = False,
        nuclear_medicine_from: int | None = None,
    ) -> None:
        self.keywords = tuple(keywords)
        self.private_groups = frozenset(private_groups)
        # Lazy headers decode a value when it is first asked for and keep the bytes read (16 kB
        # per file): right for a series being loaded, wrong for indexing thousands of files.
        self.lazy = lazy
        # Attributes of group 0054 and above (Units, radiopharmaceutical …) exist only in PET/NM
        # images: for other modalities the walk stops after the last attribute asked for below
        # that group (GE CT headers carry dozens of private elements after group 0028). Needs
        # Modality in the spec; no pixel offset then.
        self.nuclear_medicine_from = nuclear_medicine_from
        # tree: tag -> (keyword path, VR, children tree or None)
        self.tree: dict[int, tuple[str, str, dict[int, Any] | None]] = {}
        for path in self.keywords:
            node = self.tree
            parts = path.split(".")
            for depth, part in enumerate(parts):
                tag = tag_for_keyword(part)
                if tag is None:
                    raise ValueError(f"unknown DICOM keyword {part!r}")
                vr = dictionary_VR(tag)
                if vr == "CS" and dictionary_VM(tag) == "1":
                    vr = "CS1"  # decoded as one string rather than a tuple
                last = depth == len(parts) - 1
                if tag not in node:
                    node[tag] = (".".join(parts[: depth + 1]), vr, None if last else {})
                elif not last and node[tag][2] is None:
                    node[tag] = (node[tag][0], vr, {})
                if not last:
                    node = node[tag][2]  # type: ignore[assignment]
        below = [t for t in self.tree if nuclear_medicine_from and t < nuclear_medicine_from]
        # Other modalities stop right after the last attribute they can have.
        self.general_stop = max(below) + 1 if below else nuclear_medicine_from


def read_header(path: str | os.PathLike[str], spec: HeaderSpec) -> Header:
    """Read the attributes of ``spec`` from one file, headers only.

    Raises
    ------
    DicomError
        If the file is not DICOM (no ``DICM`` prefix and not parseable as a bare data set), is
        truncated inside its header, or is malformed. The message names the file.
    """
    return _read_header(os.fspath(path), spec)[0]


def _read_header(path: str, spec: HeaderSpec) -> tuple[Header, bytes | None]:
    """:func:`read_header`, and the bytes the fast path parsed (``None`` for pydicom's path)."""
    try:
        with open(path, "rb") as fp:
            buf = fp.read(_FIRST_READ)
            complete = len(buf) < _FIRST_READ
            if len(buf) >= 132 and buf[128:132] == b"DICM":
                try:
                    return _fast_header(path, buf, complete, fp, spec)
                except _Fallback:
                    pass
    except OSError as exc:
        raise DicomError(f"cannot read file: {exc.strerror or exc}", path=path) from exc
    has_preamble = len(buf) >= 132 and buf[128:132] == b"DICM"
    return _pydicom_header(path, spec, has_preamble=has_preamble), None


class _Fallback(Exception):
    """The fast path does not handle this file; pydicom reads it."""


def _fast_header(
    path: str, buf: bytes, complete: bool, fp: Any, spec: HeaderSpec
) -> tuple[Header, bytes]:
    while True:
        try:
            return _parse(path, buf, spec, complete), buf
        except _NeedMore:
            if complete:
                # pydicom would silently return the elements before the cut.
                raise DicomError(
                    f"file ends inside its header after {len(buf)} bytes (truncated)", path=path
                ) from None
            buf += fp.read()
            complete = True
        except _Malformed:
            raise _Fallback from None


def _parse(path: str, buf: bytes, spec: HeaderSpec, complete: bool) -> Header:
    # File meta information (group 0002) is always explicit VR little endian (PS3.10 §7.1).
    meta: dict[int, tuple[bytes | None, int, int]] = {}
    pos = _walk(
        buf, 132, len(buf), True, {0x00020010: None, 0x00020002: None}, meta, 0x00030000, None
    )
    if 0x00020010 not in meta:
        raise _Fallback
    ts = _ascii(buf, meta[0x00020010])
    if ts in _NOT_LITTLE_ENDIAN:
        raise _Fallback
    explicit = ts != IMPLICIT_VR_LITTLE_ENDIAN
    found: dict[int, tuple[bytes | None, int, int]] = {}
    private: dict[int, tuple[bytes | None, int, int]] = {}
    wanted: dict[int, Any] = {tag: node for tag, node in spec.tree.items()}
    wanted[0x00080005] = None  # SpecificCharacterSet, to decode text
    private_spec = (spec.private_groups, private)
    first_stop = spec.general_stop or _PIXEL_DATA
    pixel_pos = _walk(buf, pos, len(buf), explicit, wanted, found, first_stop, private_spec)
    if spec.nuclear_medicine_from is not None and pixel_pos < len(buf):
        modality_span = found.get(0x00080060)
        if modality_span is not None and _ascii(buf, modality_span) in ("PT", "NM"):
            pixel_pos = _walk(
                buf, pixel_pos, len(buf), explicit, wanted, found, _PIXEL_DATA, private_spec
            )
    if pixel_pos > len(buf) or (pixel_pos == len(buf) and not complete):
        raise _NeedMore  # an element runs past the bytes read (or past the end of the file)
    if pixel_pos < len(buf) and pixel_pos + 12 > len(buf):
        raise _NeedMore
    pixel_offset = pixel_length = None
    if pixel_pos + 12 <= len(buf) and ts in NATIVE_TRANSFER_SYNTAXES:
        group, elem = unpack_from("<HH", buf, pixel_pos)
        if (group << 16 | elem) == _PIXEL_DATA:
            if explicit:
                pixel_length = unpack_from("<I", buf, pixel_pos + 8)[0]
                pixel_offset = pixel_pos + 12
            else:
                pixel_length = unpack_from("<I", buf, pixel_pos + 4)[0]
                pixel_offset = pixel_pos + 8
            if pixel_length == _UNDEFINED:
                pixel_offset = pixel_length = None
    encodings = _encodings(buf, found.get(0x00080005))
    values: dict[str, Any] | _LazyValues
    if spec.lazy:
        values = _LazyValues(path, buf, spec.tree, found, explicit, encodings)
    else:
        values = {}
        _decode_tree(buf, spec.tree, found, explicit, encodings, values)
    if 0x00020002 in meta:
        values.setdefault("MediaStorageSOPClassUID", _ascii(buf, meta[0x00020002]))
    priv = {tag: _ascii(buf, span) for tag, span in private.items()}
    return Header(path, values, priv, ts, pixel_offset, pixel_length)


_EXPLICIT_HEAD = Struct("<HH2sH")
_IMPLICIT_HEAD = Struct("<HHI")
_U32 = Struct("<I")


def _walk(
    buf: bytes,
    pos: int,
    end: int,
    explicit: bool,
    wanted: Mapping[int, Any],
    out: dict[int, tuple[bytes | None, int, int]],
    stop: int,
    private: tuple[frozenset[int], dict[int, tuple[bytes | None, int, int]]] | None,
) -> int:
    """Walk elements from ``pos``; record spans of wanted tags; return where ``stop`` (or a tag
    past it, or ``end``) begins. Raises :class:`_NeedMore` when the buffer ends too early."""
    private_groups, private_out = private if private is not None else (frozenset(), {})
    if explicit:
        return _walk_explicit(buf, pos, end, wanted, out, stop, private_groups, private_out)
    return _walk_implicit(buf, pos, end, wanted, out, stop, private_groups, private_out)


# The two loops below are the hot path of indexing (one pass per element of every header):
# locals and precompiled structs on purpose, and the common case (a short VR) tested first.


def _walk_explicit(
    buf: bytes,
    pos: int,
    end: int,
    wanted: Mapping[int, Any],
    out: dict[int, tuple[bytes | None, int, int]],
    stop: int,
    private_groups: frozenset[int],
    private_out: dict[int, tuple[bytes | None, int, int]],
) -> int:
    size = len(buf)
    head = _EXPLICIT_HEAD.unpack_from
    u32 = _U32.unpack_from
    short_vrs = _SHORT_VRS
    long_vrs = _LONG_VRS
    while pos < end:
        if pos + 8 > size:
            raise _NeedMore
        group, elem, vr, length = head(buf, pos)
        tag = group << 16 | elem
        if tag >= stop:
            return pos
        if vr in short_vrs:
            start = pos + 8
        elif group == 0xFFFE:  # item tags carry no VR
            if tag == _ITEM_END:
                return pos
            raise _Malformed(f"unexpected item tag ({group:04X},{elem:04X}) at byte {pos}")
        elif vr in long_vrs:
            if pos + 12 > size:
                raise _NeedMore
            length = u32(buf, pos + 8)[0]
            start = pos + 12
        else:
            raise _Malformed(f"invalid VR {vr!r} in element ({group:04X},{elem:04X})")
        if length == _UNDEFINED:
            # A sequence sent as UN keeps the implicit VR encoding inside (PS3.5 §6.2.2).
            value_end = _skip_sequence(buf, start, vr != b"UN")
            content_end = value_end - 8
        else:
            value_end = start + length
            content_end = value_end
        if tag in wanted:
            if content_end > size:
                raise _NeedMore
            out[tag] = (vr, start, content_end)
        elif group in private_groups and group & 1:
            if content_end > size:
                raise _NeedMore
            private_out[tag] = (vr, start, content_end)
        pos = value_end
    return pos


def _walk_implicit(
    buf: bytes,
    pos: int,
    end: int,
    wanted: Mapping[int, Any],
    out: dict[int, tuple[bytes | None, int, int]],
    stop: int,
    private_groups: frozenset[int],
    private_out: dict[int, tuple[bytes | None, int, int]],
) -> int:
    size = len(buf)
    head = _IMPLICIT_HEAD.unpack_from
    while pos < end:
        if pos + 8 > size:
            raise _NeedMore
        group, elem, length = head(buf, pos)
        tag = group << 16 | elem
        if tag >= stop:
            return pos
        if group == 0xFFFE:
            if tag == _ITEM_END:
                return pos
            raise _Malformed(f"unexpected item tag ({group:04X},{elem:04X}) at byte {pos}")
        start = pos + 8
        if length == _UNDEFINED:
            value_end = _skip_sequence(buf, start, False)
            content_end = value_end - 8
        else:
            value_end = start + length
            content_end = value_end
        if tag in wanted:
            if content_end > size:
                raise _NeedMore
            out[tag] = (None, start, content_end)
        elif group in private_groups and group & 1:
            if content_end > size:
                raise _NeedMore
            private_out[tag] = (None, start, content_end)
        pos = value_end
    return pos


def _skip_sequence(buf: bytes, pos: int, explicit: bool) -> int:
    """Skip an undefined-length sequence value; return the position after its delimiter."""
    size = len(buf)
    while True:
        if pos + 8 > size:
            raise _NeedMore
        group, elem, length = unpack_from("<HHI", buf, pos)
        tag = group << 16 | elem
        if tag == _SEQUENCE_END:
            return pos + 8
        if tag != _ITEM:
            raise _Malformed(f"expected an item in a sequence at byte {pos}")
        if length == _UNDEFINED:
            pos = _walk(buf, pos + 8, 1 << 62, explicit, {}, {}, _ITEM_END, None)
            if pos + 8 > size:
                raise _NeedMore
            pos += 8  # the item delimiter
        else:
            pos += 8 + length


class _LazyValues(Mapping[str, Any]):
    """The values of a header, decoded on first access (same results as the eager decode)."""

    def __init__(
        self,
        path: str,
        buf: bytes,
        tree: Mapping[int, tuple[str, str, Any]],
        found: Mapping[int, tuple[bytes | None, int, int]],
        explicit: bool,
        encodings: list[str] | None,
    ) -> None:
        self._path = path
        self._buf = buf
        self._explicit = explicit
        self._encodings = encodings
        self._tree = tree
        self._found = found
        self._paths = {node[0]: tag for tag, node in tree.items()}
        self._cache: dict[str, Any] = {}
        self._complete = False

    def __getitem__(self, key: str) -> Any:
        if key in self._cache:
            return self._cache[key]
        if self._complete:
            raise KeyError(key)
        root = key.split(".", 1)[0]
        tag = self._paths.get(root)
        if tag is None or tag not in self._found:
            raise KeyError(key)
        path, vr, children = self._tree[tag]
        try:
            if children is None:
                value = _decode(self._buf, self._found[tag], vr, self._encodings)
                if value is None:
                    raise KeyError(key)
                self._cache[key] = value
                return value
            _decode_tree(
                self._buf,
                {tag: (path, vr, children)},
                self._found,
                self._explicit,
                self._encodings,
                self._cache,
            )
        except _Malformed as exc:
            raise DicomError(str(exc), path=self._path, tag=tag_label(path)) from None
        self._paths.pop(root)  # decoded: what is not in the cache is absent
        return self._cache[key]

    def get(self, key: str, default: Any = None) -> Any:
        # Mapping.get would raise and catch KeyError for every absent attribute.
        if key in self._cache:
            return self._cache[key]
        root = key.split(".", 1)[0]
        if self._complete or self._found.get(self._paths.get(root, -1)) is None:
            return default
        try:
            return self[key]
        except KeyError:
            return default

    def raw(self, key: str) -> bytes | None:
        """The encoded bytes of a top-level attribute (cheap equality between slices)."""
        span = self._found.get(self._paths.get(key, -1))
        return None if span is None else self._buf[span[1] : span[2]]

    def setdefault(self, key: str, default: Any) -> Any:
        return self._cache.setdefault(key, default)

    def _decode_all(self) -> dict[str, Any]:
        if not self._complete:
            for path in list(self._paths):
                self.get(path)  # raises DicomError naming the tag of a malformed value
            self._complete = True
        return self._cache

    def __iter__(self) -> Iterator[str]:
        return iter(self._decode_all())

    def __len__(self) -> int:
        return len(self._decode_all())


# -- the files of one series, read against the layout of the first --------------------------------

# How many times per series a file that does not match the layout is compared element by element
# with the first file to learn which elements vary; after that, files that do not match are read
# on their own.
_MAX_RELEARN = 16
# Bytes read past the first file's Pixel Data offset, for values longer than the first file's.
_LAYOUT_SLACK = 1024
# Elements that change how everything else is decoded: a file where they differ is read on its own.
_NEVER_VARYING = frozenset({0x00020002, 0x00020010, 0x00080005})


@dataclass(frozen=True, slots=True)
class _Element:
    """A top-level element: where it starts, where its length field is, where its value ends."""

    tag: int
    start: int
    length_at: int
    length_size: int  # 2 (short explicit VRs) or 4
    value_start: int
    end: int  # past the value (past the delimiter for undefined lengths; Pixel Data: its header)
    defined: bool


def _elements(buf: bytes, explicit: bool) -> list[_Element]:
    """Every top-level element from the file meta information up to Pixel Data, which ends the
    list (its value excluded). Raises :class:`_NeedMore` or :class:`_Malformed` as the walk does."""
    out = []
    pos = 132
    size = len(buf)
    while True:
        if pos + 8 > size:
            raise _NeedMore
        group, elem = unpack_from("<HH", buf, pos)
        tag = group << 16 | elem
        if group == 0xFFFE:
            raise _Malformed(f"unexpected item tag ({group:04X},{elem:04X}) at byte {pos}")
        vr = buf[pos + 4 : pos + 6]
        if explicit or tag < 0x00030000:  # file meta information is always explicit VR
            if vr in _SHORT_VRS:
                length_at, length_size = pos + 6, 2
            elif vr in _LONG_VRS:
                length_at, length_size = pos + 8, 4
            else:
                raise _Malformed(f"invalid VR {vr!r} in element ({group:04X},{elem:04X})")
            nested_explicit = vr != b"UN"
        else:
            length_at, length_size, nested_explicit = pos + 4, 4, False
        if length_at + length_size > size:
            raise _NeedMore
        if length_size == 2:
            length = buf[length_at] | buf[length_at + 1] << 8
        else:
            length = _U32.unpack_from(buf, length_at)[0]
        value_start = length_at + length_size
        if tag >= _PIXEL_DATA:
            out.append(_Element(tag, pos, length_at, length_size, value_start, value_start, True))
            return out
        defined = length != _UNDEFINED or length_size == 2
        end = value_start + length if defined else _skip_sequence(buf, value_start, nested_explicit)
        out.append(_Element(tag, pos, length_at, length_size, value_start, end, defined))
        pos = end


class _SeriesValues(Mapping[str, Any]):
    """The values of a file read against the first file of its series: attributes whose bytes
    are the first file's come from the first file's (shared) values, the ``varying`` ones from
    the file's own bytes."""

    __slots__ = ("base", "own", "varying")

    def __init__(self, base: Mapping[str, Any], own: Mapping[str, Any], varying: frozenset[str]):
        self.base = base
        self.own = own
        self.varying = varying

    def __getitem__(self, key: str) -> Any:
        if self.varying and key.split(".", 1)[0] in self.varying:
            return self.own[key]
        return self.base[key]

    def get(self, key: str, default: Any = None) -> Any:
        if self.varying and key.split(".", 1)[0] in self.varying:
            return self.own.get(key, default)
        return self.base.get(key, default)

    def raw(self, key: str) -> bytes | None:
        values = self.own if key in self.varying else self.base
        return values.raw(key) if isinstance(values, _LazyValues) else None

    def _keys(self) -> list[str]:
        return [
            *(k for k in self.base if k.split(".", 1)[0] not in self.varying),
            *(k for k in self.own if k.split(".", 1)[0] in self.varying),
        ]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


class _SeriesLayout:
    """The element layout of the first file of a series and which elements vary between files.

    A file matches when its bytes equal the first file's everywhere except the values of the
    varying elements (same tags, VRs and order; the varying values may have other lengths). Such
    a file walks exactly as the first one does, so its header is the first file's values with the
    varying ones decoded from its own bytes: what :func:`read_header` would give, without walking
    its elements one by one. A file that does not match is read by :func:`read_header`, and
    compared element by element with the first file to learn new varying elements (never those
    that change how other elements are decoded, nor sequences that are read into). Only the
    match decides whether a file's values come from the first file; learning only chooses
    which elements may differ.
    """

    def __init__(self, first: Header, buf: bytes, spec: HeaderSpec) -> None:
        self.spec = spec
        self.buf = buf
        self.transfer_syntax_uid = first.transfer_syntax_uid
        self.explicit = first.transfer_syntax_uid != IMPLICIT_VR_LITTLE_ENDIAN
        self.elements = _elements(buf, self.explicit)
        self.pixel_length = first.pixel_length
        self.read_size = self.elements[-1].end + _LAYOUT_SLACK
        charset = next((e for e in self.elements if e.tag == 0x00080005), None)
        self.encodings = (
            None if charset is None else _encodings(buf, (None, charset.value_start, charset.end))
        )
        self.base = first.values
        self.first = Header(
            first.path,
            _SeriesValues(first.values, first.values, frozenset()),
            first.private,
            first.transfer_syntax_uid,
            first.pixel_offset,
            first.pixel_length,
        )
        self.relearnt = 0
        self.varying: dict[int, _Element] = {}
        self._compile()

    def _compile(self) -> None:
        segments: list[tuple[bytes, _Element | None]] = []
        run = 132
        for e in self.elements:
            if e.tag in self.varying:
                segments.append((self.buf[run : e.length_at], e))
                run = e.end
        segments.append((self.buf[run : self.elements[-1].end], None))
        self.segments = tuple(segments)
        self.varying_tree = {
            tag: self.spec.tree[tag]
            for tag in self.varying
            if tag in self.spec.tree and tag >= 0x00030000
        }
        self.varying_keywords = frozenset(node[0] for node in self.varying_tree.values())

    def _can_vary(self, e: _Element) -> bool:
        node = self.spec.tree.get(e.tag)
        return (
            e.defined
            and e.tag < _PIXEL_DATA
            and e.tag not in _NEVER_VARYING
            and (node is None or node[2] is None)
        )

    def read(self, path: str) -> Header:
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
            try:
                buf = os.read(fd, self.read_size)
            finally:
                os.close(fd)
        except OSError:
            return read_header(path, self.spec)  # raises the usual error
        header = self._match(path, buf)
        if header is not None:
            return header
        full, full_buf = _read_header(path, self.spec)
        if full_buf is not None and self._learn(full, full_buf):
            header = self._match(path, full_buf)
            if header is not None:
                return header
        return full

    def _match(self, path: str, buf: bytes) -> Header | None:
        if not buf.startswith(b"DICM", 128):
            return None
        pos = 132
        spans: list[tuple[_Element, int, int]] = []
        for fixed, e in self.segments:
            if not buf.startswith(fixed, pos):
                return None
            pos += len(fixed)
            if e is None:
                break
            if e.length_size == 2:
                if pos + 2 > len(buf):
                    return None
                length = buf[pos] | buf[pos + 1] << 8
            else:
                if pos + 4 > len(buf):
                    return None
                length = _U32.unpack_from(buf, pos)[0]
                if length == _UNDEFINED:
                    return None
            start = pos + e.length_size
            pos = start + length
            spans.append((e, start, pos))
        spec = self.spec
        found: dict[int, tuple[bytes | None, int, int]] = {}
        private: dict[int, str] | None = None
        for e, start, end in spans:
            tag = e.tag
            if tag < 0x00030000:
                continue  # file meta information: only read from the first file
            if tag in spec.tree:
                # the VR bytes were compared equal to the first file's
                vr = self.buf[e.start + 4 : e.start + 6] if self.explicit else None
                found[tag] = (vr, start, end)
            elif tag >> 16 in spec.private_groups and tag >> 16 & 1:
                if private is None:
                    private = dict(self.first.private)
                private[tag] = _ascii(buf, (None, start, end))
        own: Mapping[str, Any]
        tree = self.varying_tree
        if spec.lazy:
            own = _LazyValues(path, buf, tree, found, self.explicit, self.encodings)
        else:
            decoded: dict[str, Any] = {}
            try:
                _decode_tree(buf, tree, found, self.explicit, self.encodings, decoded)
            except _Malformed:
                return None  # read_header falls back to pydicom for such a file
            own = decoded
        return Header(
            path,
            _SeriesValues(self.base, own, self.varying_keywords),
            self.first.private if private is None else private,
            self.transfer_syntax_uid,
            pos,
            self.pixel_length,
        )

    def _learn(self, header: Header, buf: bytes) -> bool:
        """Compare a file that did not match with the first one, element by element; true when
        it has the same layout (its differing elements are then learnt as varying)."""
        if self.relearnt >= _MAX_RELEARN or header.transfer_syntax_uid != self.transfer_syntax_uid:
            return False
        self.relearnt += 1
        try:
            elements = _elements(buf, self.explicit)
        except (_NeedMore, _Malformed):
            return False
        if len(elements) != len(self.elements):
            return False
        learnt = dict(self.varying)
        mine = self.buf
        for a, b in zip(self.elements, elements, strict=True):
            if mine[a.start : a.length_at] != buf[b.start : b.length_at]:
                return False  # another tag or VR
            if a.tag in learnt or mine[a.start : a.end] == buf[b.start : b.end]:
                continue
            if not (self._can_vary(a) and b.defined):
                return False
            learnt[a.tag] = a
        self.varying = learnt
        self.read_size = max(self.read_size, elements[-1].end + _LAYOUT_SLACK)
        self._compile()
        return True


def varying_keywords(headers: Sequence[Header]) -> frozenset[str] | None:
    """The keywords whose values may differ between ``headers``.

    For headers of one series read by :func:`read_series_headers`, the attributes read whose
    bytes differed from the first file's in any of them (every other attribute is the same in
    all); ``None`` when that is not known (any attribute may differ).
    """
    base = None
    varying: set[str] = set()
    for h in headers:
        values = h.values
        if not isinstance(values, _SeriesValues) or (base is not None and values.base is not base):
            return None
        base = values.base
        varying |= values.varying
    return frozenset(varying)


def read_series_headers(paths: Iterable[str | os.PathLike[str]], spec: HeaderSpec) -> list[Header]:
    """The headers of the files of one series, each exactly what :func:`read_header` gives.

    Files of one series are nearly always written with one layout: the same elements in the same
    order, most of them with the same bytes. The first file is parsed in full; each other file is
    compared with it as a few byte runs and only its varying values are decoded (see
    :class:`_SeriesLayout`), so a series is read in a fraction of the time of parsing every file.
    :meth:`Header.same` is then immediate for attributes that do not vary. A value that cannot be
    decoded is reported with the file it was first read from.

    Raises
    ------
    DicomError
        As :func:`read_header`, for the first file that cannot be read.
    """
    path_list = [os.fspath(p) for p in paths]
    if not path_list:
        return []
    first, buf = _read_header(path_list[0], spec)
    layout = None
    if buf is not None and first.pixel_offset is not None:
        try:
            layout = _SeriesLayout(first, buf, spec)
        except (_NeedMore, _Malformed):
            layout = None
    if layout is None:
        return [first, *(read_header(p, spec) for p in path_list[1:])]
    return [layout.first, *(layout.read(p) for p in path_list[1:])]


def _first_item(buf: bytes, start: int, end: int) -> tuple[int, int] | None:
    if start + 8 > end:
        return None
    group, elem, length = unpack_from("<HHI", buf, start)
    if (group << 16 | elem) != _ITEM:
        raise _Malformed(f"expected an item in a sequence at byte {start}")
    item_start = start + 8
    return (item_start, end if length == _UNDEFINED else item_start + length)


def _decode_tree(
    buf: bytes,
    tree: Mapping[int, tuple[str, str, Any]],
    found: Mapping[int, tuple[bytes | None, int, int]],
    explicit: bool,
    encodings: list[str] | None,
    values: dict[str, Any],
) -> None:
    for tag, (path, vr, children) in tree.items():
        span = found.get(tag)
        if span is None:
            continue
        if children is None:
            value = _decode(buf, span, vr, encodings)
            if value is not None:
                values[path] = value
            continue
        item = _first_item(buf, span[1], span[2])
        if item is None:
            continue
        sub: dict[int, tuple[bytes | None, int, int]] = {}
        _walk(buf, item[0], item[1], explicit, children, sub, _ITEM_END, None)
        _decode_tree(buf, children, sub, explicit, encodings, values)


def _ascii(buf: bytes, span: tuple[bytes | None, int, int]) -> str:
    return buf[span[1] : span[2]].decode("latin-1").strip(" \x00")


def _encodings(buf: bytes, span: tuple[bytes | None, int, int] | None) -> list[str] | None:
    if span is None:
        return None
    terms = [t.strip() for t in _ascii(buf, span).split("\\")]
    if all(t in ("", "ISO_IR 6", "ISO_IR 100") for t in terms):
        return None
    return convert_encodings(terms)


_ALL_VRS = (
    "AE AS AT CS DA DS DT FD FL IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR "
    "US UT UV"
)
_VR_NAMES = {vr.encode(): vr for vr in _ALL_VRS.split(" ")}
_PLAIN_TEXT = frozenset({"UI", "CS1", "DA", "TM", "DT", "AS", "AE", "UR"})
_INT_FORMATS = {"US": "H", "US or SS": "H", "SS": "h", "UL": "I", "SL": "i"}


def _decode(
    buf: bytes, span: tuple[bytes | None, int, int], dict_vr: str, encodings: list[str] | None
) -> Any:
    raw_vr, start, end = span
    if start == end:
        return None
    # The file's VR wins, except UN (a sequence or value sent without its VR): then the data
    # dictionary's VR says how the bytes are encoded.
    vr = dict_vr if raw_vr is None or raw_vr == b"UN" else _VR_NAMES.get(raw_vr, "UN")
    if vr == "CS" and dict_vr == "CS1":
        vr = "CS1"  # single-valued by the data dictionary
    raw = buf[start:end]
    if vr in _PLAIN_TEXT:
        return raw.decode("latin-1").strip(" \x00") or None
    if vr in _CHARSET_VRS:
        if encodings is not None:
            text = decode_bytes(raw, encodings, {0x5C, 0x5E, 0x3D} if vr == "PN" else {0x5C})
        else:
            text = raw.decode("latin-1")
        return text.strip(" \x00") or None
    if vr == "DS" or vr == "IS":
        text = raw.decode("latin-1").strip(" \x00")
        if not text:
            return None
        try:
            if vr == "IS":
                return tuple(int(float(p)) for p in text.split("\\") if p.strip())
            return tuple(float(p) for p in text.split("\\") if p.strip())
        except ValueError:
            raise _Malformed(f"invalid {vr} value {text!r}") from None
    if vr == "CS":
        items = tuple(p.strip() for p in raw.decode("latin-1").strip(" \x00").split("\\"))
        return items if any(items) else None
    fmt = _INT_FORMATS.get(vr)
    if fmt is not None:
        width = 4 if fmt in "Ii" else 2
        count = len(raw) // width
        return tuple(unpack_from(f"<{count}{fmt}", raw)) if count else None
    if vr in ("FL", "FD"):
        width = 4 if vr == "FL" else 8
        count = len(raw) // width
        fmt = "f" if vr == "FL" else "d"
        return tuple(float(v) for v in unpack_from(f"<{count}{fmt}", raw)) if count else None
    return raw


def _pydicom_header(path: str, spec: HeaderSpec, *, has_preamble: bool) -> Header:
    """The same as the fast path, through pydicom, for files the fast path does not handle."""
    pydicom_logger = logging.getLogger("pydicom")
    was_disabled = pydicom_logger.disabled
    try:
        with warnings.catch_warnings():
            # pydicom warns (and logs) about what it repairs; the caller decides what to report.
            warnings.simplefilter("ignore")
            pydicom_logger.disabled = True
            ds = pydicom.dcmread(path, stop_before_pixels=True, force=not has_preamble)
    except InvalidDicomError as exc:
        raise NotDicomFileError(f"not a DICOM file ({exc})", path=path) from None
    except Exception as exc:  # pydicom raises many types for corrupt files
        raise DicomError(
            f"cannot parse DICOM data ({type(exc).__name__}: {exc})", path=path
        ) from None
    finally:
        pydicom_logger.disabled = was_disabled
    if not has_preamble and not (0x00080016 in ds or 0x00080018 in ds):
        # force=True accepts any bytes; a real bare data set has SOP identity.
        raise NotDicomFileError(
            "not a DICOM file (no DICM prefix and no SOP Instance UID)", path=path
        )
    values: dict[str, Any] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values_from_dataset(ds, spec.tree, values, path)
    meta = getattr(ds, "file_meta", None)
    if meta is not None and "MediaStorageSOPClassUID" in meta:
        values.setdefault("MediaStorageSOPClassUID", str(meta.MediaStorageSOPClassUID))
    ts = str(meta.TransferSyntaxUID) if meta is not None and "TransferSyntaxUID" in meta else ""
    if not ts:
        ts = _inferred_transfer_syntax(ds)
    private = dataset_private_values(ds, spec.private_groups)
    return Header(path, values, private, ts, None, None)


def _inferred_transfer_syntax(ds: Any) -> str:
    """The transfer syntax of a data set without file meta information, as pydicom inferred its
    encoding while reading it (PS3.5 §10.1: implicit VR little endian unless the bytes say
    otherwise)."""
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if implicit is None or implicit:
        return IMPLICIT_VR_LITTLE_ENDIAN
    return EXPLICIT_VR_LITTLE_ENDIAN if little else "1.2.840.10008.1.2.2"


def dataset_private_values(ds: Any, groups: frozenset[int]) -> dict[int, str]:
    """The raw values of the private elements of ``groups`` in a pydicom data set, by tag, as
    :attr:`Header.private` holds them."""
    private: dict[int, str] = {}
    for elem in ds:
        if elem.tag.group in groups and elem.tag.is_private and elem.VR != "SQ":
            value = elem.value
            private[int(elem.tag)] = (
                value.decode("latin-1") if isinstance(value, bytes) else str(value)
            ).strip(" \x00")
    return private


def values_from_dataset(
    ds: Any, tree: Mapping[int, tuple[str, str, Any]], values: dict[str, Any], file: str
) -> None:
    """Decode the attributes of ``tree`` (a :attr:`HeaderSpec.tree`) from a pydicom data set into
    ``values``, as the fast path decodes them; an invalid value is a :class:`DicomError` naming
    ``file`` and the tag."""
    for tag, (path, dict_vr, children) in tree.items():
        if tag not in ds:
            continue
        try:
            elem = ds[tag]
            if children is not None:
                if elem.value:
                    values_from_dataset(elem.value[0], children, values, file)
                continue
            _store_value(elem, path, dict_vr, values)
        except DicomError:
            raise
        except Exception as exc:  # a value pydicom cannot convert
            raise DicomError(
                f"invalid value ({type(exc).__name__}: {exc})", path=file, tag=tag_label(path)
            ) from None


def _store_value(elem: Any, path: str, dict_vr: str, values: dict[str, Any]) -> None:
    value = elem.value
    if value is None or value == "" or (hasattr(value, "__len__") and len(value) == 0):
        return
    vr = elem.VR
    if vr in ("DS", "IS", "US", "SS", "UL", "SL", "FL", "FD", "US or SS", "CS"):
        seq = list(value) if isinstance(value, pydicom.multival.MultiValue) else [value]
        if vr == "CS" and dict_vr == "CS1":
            values[path] = str(seq[0]).strip()
        elif vr == "CS":
            values[path] = tuple(str(v).strip() for v in seq)
        elif vr in ("DS", "FL", "FD"):
            values[path] = tuple(float(v) for v in seq)
        else:
            values[path] = tuple(int(v) for v in seq)
    elif isinstance(value, bytes):
        values[path] = value
    else:
        text = str(value).strip(" \x00")
        if text:
            values[path] = text


def resolve_private(
    header: Header, group: int, creator: str, element: int
) -> tuple[str | None, bool]:
    """The value of private element ``(group, xx<element>)`` in the block of ``creator``.

    Returns
    -------
    (value, creator_missing)
        ``creator_missing`` is true when the file has no Private Creator for the group and the
        value was read at the conventional block 0x10 (as in the IBSI SUV DROs); a block owned by
        another creator is never read.
    """
    for block in range(0x10, 0x100):
        owner = header.private.get(group << 16 | block)
        if owner is not None and owner.strip() == creator:
            return header.private.get(group << 16 | block << 8 | element), False
    if (group << 16 | 0x10) not in header.private:
        value = header.private.get(group << 16 | 0x10 << 8 | element)
        if value is not None:
            return value, True
    return None, False
