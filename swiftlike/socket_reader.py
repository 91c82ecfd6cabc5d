"""Buffered reads from a green socket, for both ends of our HTTP: the server
loop reads requests with it (http_server), the node-to-node client reads
responses (backend_http). What one message does not use stays in the buffer
for the next one on the connection."""

from swiftlike.http_framing import MAX_HEADERS, valid_header_block

RECV_SIZE = 65536
DEFAULT_LINE_LIMIT = 65536


class SocketReader:
    __slots__ = ('sock', 'buf', 'pos')

    def __init__(self, sock):
        self.sock = sock
        self.buf = b''
        self.pos = 0

    def _fill(self):
        data = self.sock.recv(RECV_SIZE)
        if not data:
            return False
        self.buf = self.buf[self.pos:] + data if self.pos < len(self.buf) else data
        self.pos = 0
        return True

    def whole_block(self, limit):
        """The header block at the read position as (name, value) pairs, if
        the buffer holds all of it (under `limit` bytes, at most MAX_HEADERS
        lines) and every line is a valid field line: checked in one pass, the
        usual case. Else None, and nothing is consumed (the caller reads it
        line by line, which names any fault)."""
        buf, pos = self.buf, self.pos
        if buf.startswith(b'\r\n', pos):
            self.pos = pos + 2
            return []
        end = buf.find(b'\r\n\r\n', pos, pos + limit + 4)
        if end < 0:
            return None
        block = buf[pos:end + 2]
        if block.count(b'\n') > MAX_HEADERS:
            return None
        pairs = valid_header_block(block)
        if pairs is not None:
            self.pos = end + 4
        return pairs

    def readline(self, limit=-1):
        """One line up to its LF, or `limit` bytes, or what is left at EOF."""
        if limit is None or limit < 0:
            limit = DEFAULT_LINE_LIMIT
        while True:
            buf, pos = self.buf, self.pos
            end = buf.find(b'\n', pos, pos + limit)
            if end >= 0:
                end += 1
                break
            if len(buf) - pos >= limit:
                end = pos + limit
                break
            if not self._fill():
                end = len(self.buf)
                break
        line = self.buf[self.pos:end]
        self.pos = end
        return line

    def read(self, size):
        """Exactly `size` bytes, fewer only at EOF."""
        buf, pos = self.buf, self.pos
        if len(buf) - pos >= size:
            self.pos = pos + size
            return buf[pos:pos + size]
        parts = [buf[pos:]]
        want = size - (len(buf) - pos)
        self.buf, self.pos = b'', 0
        while want > 0:
            # Big bodies in pieces of at most 1 MiB (recv allocates what it
            # is asked for); a small read may take the next message's bytes.
            data = self.sock.recv(RECV_SIZE if want <= RECV_SIZE else min(want, 1 << 20))
            if not data:
                break
            if len(data) > want:
                data, self.buf = data[:want], data[want:]
            parts.append(data)
            want -= len(data)
        return b''.join(parts)

    def read_some(self, size):
        """What is buffered, or one receive's worth: up to `size` bytes, b''
        only at EOF (a body that lasts until the connection closes)."""
        if self.pos < len(self.buf):
            return self.read(min(size, len(self.buf) - self.pos))
        return self.sock.recv(min(size, 1 << 20))
