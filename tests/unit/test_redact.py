"""The one scrub (archive.redact): URL passwords of every shape, known secrets, log records.

Property tests over URL shapes and password alphabets: the password never survives, host, port
and path always do.
"""

import io
import logging
import re
from urllib.parse import quote

from hypothesis import example, given, settings
from hypothesis import strategies as st

from archive.config import mask_url
from archive.recorder.ffmpeg import RecordingSpec
from archive.recorder.process import classify_exit
from archive.redact import REDACTED, ScrubFilter, forget_secret, install_log_scrubber, remember_secret, scrub

# Everything a password may hold in a URL except whitespace: URL delimiters, percent signs,
# sub-delims, quotes and non-ASCII letters and symbols.
PASSWORD_CHARS = st.sampled_from(list("@:/#?%&=+;,!$'()*[]~._-") + list("aZ09") + list("éßü€日本語Ω𝄞"))
passwords = st.text(PASSWORD_CHARS, min_size=1, max_size=24)
users = st.lists(st.sampled_from([*"abcXYZ019._-~", "%40", "%3A"]), min_size=1, max_size=12).map("".join)
hosts = st.one_of(
    st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){0,2}", fullmatch=True),
    st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t))),
    st.just("[fd00::5]"),
)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))
paths = st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,3}(\?[a-z]{1,5}=[0-9]{1,3}(&[a-z]{1,5}=[0-9]{1,3})?)?",
                      fullmatch=True)
schemes = st.sampled_from(["rtsp", "rtsps", "http", "https"])
# How the line around the URL looks: ffmpeg's error line, a quoted input, a gap detail.
frames = st.sampled_from(["[error] {}: Connection timed out", "Input #0, rtsp, from '{}':", "{}",
                          "ffmpeg_exit: exit status 1: [error] {}: End of file", "a {} b"])


@settings(max_examples=600, deadline=None)
@given(scheme=schemes, user=users, password=passwords, encoded=st.booleans(), host=hosts, port=ports, path=paths,
       frame=frames)
@example(scheme="rtsp", user="admin", password="p@ss:w/o#r?d", encoded=False, host="10.0.0.5", port=":554",
         path="/ch1", frame="[error] {}: Connection timed out")
def test_url_password_is_removed_in_every_shape(scheme, user, password, encoded, host, port, path, frame):
    written = quote(password, safe="") if encoded else password
    line = frame.format(f"{scheme}://{user}:{written}@{host}{port}{path}")
    assert scrub(line) == frame.format(f"{scheme}://{user}:{REDACTED}@{host}{port}{path}")


@settings(max_examples=300, deadline=None)
@given(password=st.text(PASSWORD_CHARS.filter(lambda c: c != "*"), min_size=4, max_size=24),
       before=st.text(max_size=20), after=st.text(max_size=20), form=st.sampled_from(["raw", "quoted", "lower"]))
def test_known_secret_is_removed_anywhere(password, before, after, form):
    lowered = re.sub(r"%[0-9A-F]{2}", lambda m: m[0].lower(), quote(password, safe=""))
    written = {"raw": password, "quoted": quote(password, safe=""), "lower": lowered}[form]
    out = scrub(f"{before}{written}{after}", [password])
    assert password not in out and quote(password, safe="") not in out and lowered not in out
    if form == "raw":
        assert REDACTED in out


def test_remembered_secret_is_removed_outside_url_shape():
    remember_secret("Hunter2 with space")
    try:
        assert scrub("[debug] password Hunter2 with space refused") == "[debug] password *** refused"
        assert scrub("?pw=Hunter2%20with%20space") == "?pw=***"
    finally:
        forget_secret("Hunter2 with space")
    assert "Hunter2" in scrub("[debug] password Hunter2 with space refused")


def test_credential_query_values_and_authorization_headers():
    assert scrub("rtsp://cam/x?user=admin&password=s3cret&ch=1") == "rtsp://cam/x?user=admin&password=***&ch=1"
    assert scrub("Authorization: Basic YWRtaW46czNjcmV0") == "Authorization: Basic ***"
    assert scrub("rtsp://user@cam/x") == "rtsp://user@cam/x"  # a user name alone is kept


def test_config_mask_url_and_spec_display_url_use_the_scrub():
    assert mask_url("rtsp://admin:p@ss/w#rd@10.0.0.5:554/ch1") == "rtsp://admin:***@10.0.0.5:554/ch1"
    spec = RecordingSpec.create("cam1", "rtsp://admin:S3cr%23t!pw@10.0.0.5:554/ch1")
    assert spec.display_url == "rtsp://admin:***@10.0.0.5:554/ch1"
    assert spec.secrets == ("S3cr#t!pw", "S3cr%23t!pw")


def test_gap_detail_from_debian_ffmpeg_line_is_scrubbed():
    # Debian's ffmpeg 5.1 on a frozen camera, its last log line verbatim (password made up).
    log = ["[info] frame=  100 fps= 17", "[error] rtsp://admin:S3cr%23t!pw@127.0.0.1:43187/cam1: Connection timed out"]
    reason, detail = classify_exit(1, log)
    assert reason == "camera_unreachable"
    assert "S3cr" not in detail and "127.0.0.1:43187/cam1: Connection timed out" in detail


def test_log_filter_scrubs_messages_arguments_and_tracebacks():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        install_log_scrubber()
        assert any(isinstance(f, ScrubFilter) for f in handler.filters)
        log = logging.getLogger("archive.recorder.test")
        log.warning("ffmpeg said %s", "rtsp://admin:S3cr%23t!pw@10.0.0.5/ch1: Connection timed out")
        try:
            raise RuntimeError("cannot open rtsp://admin:Tr0ub4dor@10.0.0.5/ch1")
        except RuntimeError:
            log.exception("camera failed")
    finally:
        root.removeHandler(handler)
        logging.getLogger("archive").filters.clear()
    text = stream.getvalue()
    assert "S3cr" not in text and "Tr0ub4dor" not in text
    assert "rtsp://admin:***@10.0.0.5/ch1" in text and "RuntimeError" in text
