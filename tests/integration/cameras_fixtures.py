"""Cameras on loopback for the tests: an HTTP snapshot server, and an RTSP stream made by ffmpeg.

- :class:`SnapshotServer` answers ``/snap.jpg`` with a JPEG (as most IP cameras do), ``/auth.jpg``
  only with HTTP Basic credentials, ``/hang.jpg`` never (it accepts and says nothing: a camera
  that is plugged in but stuck), ``/page`` with HTML (a login page, not a picture).
- :class:`RtspCamera`: Debian's ffmpeg cannot *serve* RTSP to a player (its RTSP muxer only
  pushes to a server, and ``-rtsp_flags listen`` is for receiving), and there is no RTSP server
  packaged that fits a test. So ffmpeg makes the stream (a test pattern, encoded as H.264 and
  packetised as RTP, the way a camera's encoder does) and sends it to a UDP port on loopback;
  this class answers the RTSP conversation (OPTIONS, DESCRIBE with ffmpeg's own SDP, SETUP,
  PLAY, TEARDOWN) and relays those RTP packets interleaved on the client's TCP connection
  (``-rtsp_transport tcp``), as a camera does.
"""

from __future__ import annotations

import base64
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

__all__ = ["RtspCamera", "SnapshotServer", "make_test_card"]


def make_test_card(path: Path, text: str = "forewarn") -> bytes:
    """A 320x240 test-pattern JPEG made by ffmpeg."""
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is needed (make test installs it)"
    subprocess.run([ffmpeg, "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=size=320x240",
                    "-frames:v", "1", str(path)], check=True, timeout=30)
    return path.read_bytes()


class SnapshotServer:
    """An IP camera's HTTP snapshot endpoint on loopback."""

    def __init__(self, jpeg: bytes, user: str = "admin", password: str = "s3cret") -> None:
        self.jpeg = jpeg
        self.hits: dict[str, int] = {}
        self._release = threading.Event()
        server = self
        expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                path = self.path.split("?")[0]
                server.hits[path] = server.hits.get(path, 0) + 1
                if path == "/hang.jpg":
                    server._release.wait(30)
                    return
                if path == "/auth.jpg" and self.headers.get("Authorization") != expected:
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Basic realm="camera"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if path == "/page":
                    body, kind = b"<html>login</html>", "text/html"
                elif path in ("/snap.jpg", "/auth.jpg"):
                    body, kind = server.jpeg, "image/jpeg"
                else:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str, credentials: str = "") -> str:
        return f"http://{credentials + '@' if credentials else ''}127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class RtspCamera:
    """An RTSP camera on loopback: ffmpeg's RTP stream behind a minimal RTSP server."""

    def __init__(self, folder: Path) -> None:
        ffmpeg = shutil.which("ffmpeg")
        assert ffmpeg, "ffmpeg is needed (make test installs it)"
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.2)
        udp_port = self._udp.getsockname()[1]
        sdp = folder / "camera.sdp"
        self._ffmpeg = subprocess.Popen(
            [ffmpeg, "-nostdin", "-loglevel", "error", "-re", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=5",
             "-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "5",
             "-bf", "0", "-flags", "+global_header", "-f", "rtp", "-sdp_file", str(sdp),
             f"rtp://127.0.0.1:{udp_port}?pkt_size=1200"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while not (sdp.exists() and sdp.stat().st_size) and time.monotonic() < deadline:
            time.sleep(0.05)
        self.sdp = sdp.read_text().replace("\r\n", "\n").strip().replace("\n", "\r\n") + "\r\n"
        self._players: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._tcp = socket.create_server(("127.0.0.1", 0))
        self._tcp.settimeout(0.2)
        self.port = self._tcp.getsockname()[1]
        self.url = f"rtsp://127.0.0.1:{self.port}/cam"
        self.sessions = 0
        for target in (self._accept, self._relay):
            threading.Thread(target=target, daemon=True).start()

    def _relay(self) -> None:
        while not self._stop.is_set():
            try:
                packet = self._udp.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            frame = b"$\x00" + len(packet).to_bytes(2, "big") + packet
            with self._lock:
                for player in list(self._players):
                    try:
                        player.sendall(frame)
                    except OSError:
                        self._players.remove(player)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while not self._stop.is_set():
                while buffer.startswith(b"$") and len(buffer) >= 4 and len(buffer) >= 4 + int.from_bytes(
                        buffer[2:4], "big"):  # the player's interleaved RTCP: nothing to answer
                    buffer = buffer[4 + int.from_bytes(buffer[2:4], "big"):]
                while b"\r\n\r\n" not in buffer:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    buffer += chunk
                head, buffer = buffer.split(b"\r\n\r\n", 1)
                lines = head.decode("latin-1").split("\r\n")
                method, url, _ = lines[0].split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])}
                cseq = headers.get("cseq", "0")
                extra, body = "", ""
                if method == "OPTIONS":
                    extra = "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN\r\n"
                elif method == "DESCRIBE":
                    body = self.sdp
                    extra = f"Content-Base: {url}/\r\nContent-Type: application/sdp\r\n"
                elif method == "SETUP":
                    self.sessions += 1
                    extra = "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\nSession: 12345678\r\n"
                elif method == "PLAY":
                    extra = "Session: 12345678\r\n"
                elif method == "TEARDOWN":
                    conn.sendall(f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n\r\n".encode())
                    return
                else:
                    conn.sendall(f"RTSP/1.0 501 Not Implemented\r\nCSeq: {cseq}\r\n\r\n".encode())
                    continue
                answer = f"RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}Content-Length: {len(body)}\r\n\r\n{body}"
                with self._lock:
                    conn.sendall(answer.encode())
                    if method == "PLAY":
                        self._players.append(conn)
        except OSError:
            return
        finally:
            with self._lock:
                if conn in self._players:
                    self._players.remove(conn)
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._ffmpeg.terminate()
        try:
            self._ffmpeg.wait(5)
        except subprocess.TimeoutExpired:
            self._ffmpeg.kill()
        self._tcp.close()
        self._udp.close()
