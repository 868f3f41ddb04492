"""H.264 / H.265 NAL units: find them, read an SPS's picture size, tell a random-access picture.

Used by :mod:`archive.recorder.tsparse` on the first bytes of an access unit (everything before
its first slice), never on slice data. Stdlib only. Results match what FFmpeg's parsers and
decoders report (``ffprobe`` width/height, the packet ``K`` flag); see the functions for details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Codec = Literal["h264", "hevc"]

START: Final = b"\x00\x00\x01"
# ITU-T H.264 7.4.1.2.4: nal_unit_type 1..5 are slices (VCL); 5 is an IDR slice, 6 SEI, 7 SPS.
H264_IDR: Final = 5
H264_SEI: Final = 6
H264_SPS: Final = 7
# ITU-T H.265 7.4.2.2, Table 7-1: 0..31 are VCL; 16..23 are IRAP (BLA, IDR, CRA, RSV_IRAP_22/23,
# FFmpeg's IS_IRAP), 33 is the SPS.
HEVC_IRAP: Final = range(16, 24)
HEVC_SPS: Final = 33
# H.264 7.3.2.1.1: profiles whose SPS carries chroma_format_idc, bit depths and scaling lists.
_HIGH_PROFILES: Final = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_SEI_RECOVERY_POINT: Final = 6  # H.264 D.1.8 recovery_point()


def nal_type(codec: Codec, header: int) -> int:
    """``nal_unit_type`` from the first NAL header byte (H.264 7.3.1, H.265 7.3.1.2)."""
    return header & 0x1F if codec == "h264" else (header >> 1) & 0x3F


def is_vcl(codec: Codec, kind: int) -> bool:
    """True for slice NAL units (coded picture data)."""
    return 1 <= kind <= 5 if codec == "h264" else kind < 32


def unescape(nal: bytes) -> bytes:
    """The RBSP of a NAL unit: every emulation-prevention byte (``00 00 03`` -> ``00 00``) removed.

    H.264 7.4.1 / H.265 7.4.2: the encoder inserts 0x03 after two zero bytes; a left-to-right,
    non-overlapping replace removes exactly those.
    """
    return nal.replace(b"\x00\x00\x03", b"\x00\x00")


class _Bits:
    """MSB-first bit reader over an RBSP (H.264 7.2 ``u(n)``, ``ue(v)``, ``se(v)``).

    Reading past the end raises :class:`ValueError`.
    """

    __slots__ = ("_n", "_pos", "_v")

    def __init__(self, data: bytes) -> None:
        self._v = int.from_bytes(data, "big")
        self._n = len(data) * 8
        self._pos = 0

    def u(self, bits: int) -> int:
        end = self._pos + bits
        if end > self._n:
            raise ValueError("SPS ends early")
        self._pos = end
        return (self._v >> (self._n - end)) & ((1 << bits) - 1)

    def ue(self) -> int:
        zeros = 0
        while not self.u(1):
            zeros += 1
            if zeros > 31:
                raise ValueError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _scaling_list(r: _Bits, size: int) -> None:
    """Skip one ``scaling_list()`` (H.264 7.3.2.1.1.1)."""
    last = nxt = 8
    for _ in range(size):
        if nxt:
            nxt = (last + r.se() + 256) % 256
        last = nxt or last


def h264_sps_size(rbsp: bytes) -> tuple[int, int]:
    """Cropped (width, height) from an H.264 SPS RBSP without its 1-byte NAL header.

    ITU-T H.264 7.3.2.1.1 (syntax) and 7.4.2.1.1 (CropUnitX/Y, equations 7-19 .. 7-22).
    Raises :class:`ValueError` when the SPS is cut short or inconsistent.
    """
    r = _Bits(rbsp)
    profile_idc = r.u(8)
    r.u(16)  # constraint_set flags + reserved_zero_2bits, level_idc
    r.ue()  # seq_parameter_set_id
    chroma_format_idc, separate_planes = 1, 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc == 3:
            separate_planes = r.u(1)
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.u(1):  # seq_scaling_list_present_flag[i]
                    _scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.u(1)  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        for _ in range(r.ue()):  # num_ref_frames_in_pic_order_cnt_cycle
            r.se()  # offset_for_ref_frame[i]
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_units = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    width, height = width_mbs * 16, (2 - frame_mbs_only) * height_units * 16
    if r.u(1):  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        chroma_array_type = 0 if separate_planes else chroma_format_idc
        sub_w, sub_h = {0: (1, 1), 1: (2, 2), 2: (2, 1), 3: (1, 1)}.get(chroma_array_type, (1, 1))
        width -= sub_w * (left + right)
        height -= sub_h * (2 - frame_mbs_only) * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError(f"SPS gives a picture size of {width}x{height}")
    return width, height


def _profile_tier_level(r: _Bits, max_sub_layers_minus1: int) -> None:
    """Skip ``profile_tier_level(1, sps_max_sub_layers_minus1)`` (H.265 7.3.3)."""
    r.u(88)  # general_profile_space .. general_inbld/reserved flag (2+1+5+32+4+43+1 bits)
    r.u(8)  # general_level_idc
    present = [(r.u(1), r.u(1)) for _ in range(max_sub_layers_minus1)]  # profile, level present
    if max_sub_layers_minus1 > 0:
        r.u(2 * (8 - max_sub_layers_minus1))  # reserved_zero_2bits
    for profile_present, level_present in present:
        if profile_present:
            r.u(88)
        if level_present:
            r.u(8)


def hevc_sps_size(rbsp: bytes) -> tuple[int, int]:
    """Cropped (width, height) from an H.265 SPS RBSP without its 2-byte NAL header.

    ITU-T H.265 7.3.2.2.1 (syntax), 7.4.3.2.1 (conformance window in chroma units, Table 6-1).
    Raises :class:`ValueError` when the SPS is cut short or inconsistent.
    """
    r = _Bits(rbsp)
    r.u(4)  # sps_video_parameter_set_id
    max_sub_layers_minus1 = r.u(3)
    r.u(1)  # sps_temporal_id_nesting_flag
    _profile_tier_level(r, max_sub_layers_minus1)
    r.ue()  # sps_seq_parameter_set_id
    chroma_format_idc = r.ue()
    separate_planes = r.u(1) if chroma_format_idc == 3 else 0
    width, height = r.ue(), r.ue()  # pic_width/height_in_luma_samples
    if r.u(1):  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        chroma_array_type = 0 if separate_planes else chroma_format_idc
        sub_w, sub_h = {1: (2, 2), 2: (2, 1)}.get(chroma_array_type, (1, 1))
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    if width <= 0 or height <= 0:
        raise ValueError(f"SPS gives a picture size of {width}x{height}")
    return width, height


def _has_recovery_point(rbsp: bytes) -> bool:
    """True when an H.264 SEI RBSP (after the NAL header) holds a recovery_point message (7.3.2.3.1)."""
    pos, end = 0, len(rbsp)
    while pos < end and rbsp[pos] != 0x80:  # 0x80: rbsp_trailing_bits
        kind = size = 0
        while pos < end and rbsp[pos] == 0xFF:
            kind, pos = kind + 255, pos + 1
        if pos >= end:
            return False
        kind, pos = kind + rbsp[pos], pos + 1
        while pos < end and rbsp[pos] == 0xFF:
            size, pos = size + 255, pos + 1
        if pos >= end:
            return False
        size, pos = size + rbsp[pos], pos + 1
        if kind == _SEI_RECOVERY_POINT:
            return True
        pos += size
    return False


@dataclass(frozen=True)
class Head:
    """What the NAL units before the first slice of an access unit say.

    ``vcl`` is the first slice's nal_unit_type (None: no slice header seen). ``key`` follows
    FFmpeg's parsers: H.264 IDR slice, or any slice after an SEI recovery point; H.265 IRAP.
    ``size`` is the cropped picture size from the first SPS (None: no SPS or an unreadable one),
    ``sps_error`` says why an SPS could not be read.
    """

    vcl: int | None
    key: bool
    size: tuple[int, int] | None
    sps_error: str | None = None


def scan_head(codec: Codec, data: bytes, *, final: bool) -> Head | None:
    """Look at an access unit's first bytes (Annex B byte stream, from the PES payload start).

    Returns None while more bytes are needed (no slice NAL header yet and ``final`` is false);
    with ``final`` (the access unit ended) it returns what there is. Never raises.
    """
    hdr = 1 if codec == "h264" else 2
    starts: list[int] = []
    vcl: int | None = None
    at = data.find(START)
    while at >= 0 and at + 3 + hdr <= len(data):
        kind = nal_type(codec, data[at + 3])
        starts.append(at + 3)
        if is_vcl(codec, kind):
            vcl = kind
            break
        at = data.find(START, at + 3)
    if vcl is None and not final:
        return None
    recovery = False
    size: tuple[int, int] | None = None
    error: str | None = None
    ends = [s - 3 for s in starts[1:]] + [len(data)]
    for begin, end in zip(starts, ends, strict=True):
        kind = nal_type(codec, data[begin])
        if is_vcl(codec, kind):
            break
        if codec == "h264" and kind == H264_SEI:
            recovery = recovery or _has_recovery_point(unescape(data[begin + 1 : end]))
        elif size is None and error is None and kind == (H264_SPS if codec == "h264" else HEVC_SPS):
            rbsp = unescape(data[begin + hdr : end].rstrip(b"\x00"))
            try:
                size = h264_sps_size(rbsp) if codec == "h264" else hevc_sps_size(rbsp)
            except ValueError as exc:
                error = str(exc)
    if vcl is None:
        key = False
    elif codec == "h264":
        key = vcl == H264_IDR or recovery
    else:
        key = vcl in HEVC_IRAP
    return Head(vcl, key, size, error)
