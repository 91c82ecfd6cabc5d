"""subrequest.call: an answer that middlewares pass on untouched is captured once."""
from swiftlike.middleware import subrequest
from swiftlike.middleware.subrequest import SubResponse, call, make_environ


class Source:
    """The app at the bottom: a streamed body that records its closing."""

    def __init__(self):
        self.closed = 0
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        start_response('200 OK', [('Content-Length', '6'), ('X-Kind', 'plain')])
        source = self

        class Body:
            def __iter__(self):
                yield b'abc'
                yield b''
                yield b'def'

            def close(self):
                source.closed += 1
        return Body()


class Passing:
    """A middleware that looks at the answer's headers and passes it on."""

    def __init__(self, app, headers=None):
        self.app = app
        self.headers = headers
        self.seen = []

    def __call__(self, environ, start_response):
        resp = call(self.app, environ)
        self.seen.append(resp.headers.get('x-kind'))
        if self.headers is None:
            return resp.respond(start_response)
        return resp.respond(start_response, resp.header_list + self.headers)


def env():
    return make_environ({}, 'GET', '/v1/a/c/o')


def test_a_chain_of_passing_middlewares_captures_once(monkeypatch):
    made = []
    real_init = SubResponse.__init__

    def counted(self, *args, **kwargs):
        made.append(self)
        real_init(self, *args, **kwargs)
    monkeypatch.setattr(SubResponse, '__init__', counted)
    source = Source()
    inner = Passing(source)
    chain = Passing(Passing(inner))
    resp = call(chain, env())
    assert len(made) == 1 and resp is made[0]
    assert resp.status == 200 and resp.headers['x-kind'] == 'plain'
    assert chain.seen == inner.seen == ['plain']
    assert resp.read() == b'abcdef'
    assert source.closed == 1 and source.calls == 1


def test_changed_headers_make_a_new_answer():
    source = Source()
    chain = Passing(Passing(source, headers=[('X-Added', '1')]))
    resp = call(chain, env())
    assert resp.headers['x-added'] == '1' and resp.headers['content-length'] == '6'
    assert b''.join(resp) == b'abcdef'
    resp.close()
    assert source.closed == 1


def test_a_passed_answer_reaches_a_wsgi_server_whole():
    source = Source()
    chain = Passing(Passing(source))
    got = {}

    def start_response(status, headers, exc_info=None):
        got['status'], got['headers'] = status, headers
    body = chain(env(), start_response)
    assert isinstance(body, subrequest._Passed)
    assert got['status'] == '200 OK' and ('X-Kind', 'plain') in got['headers']
    assert b''.join(body) == b'abcdef'
    body.close()
    assert source.closed == 1


def test_an_app_that_answers_late_is_still_captured():
    def late(environ, start_response):
        def body():
            start_response('201 Created', [('X-Late', 'yes')])
            yield b'x'
        return body()
    resp = call(Passing(late), env())
    assert resp.status == 201 and resp.headers['x-late'] == 'yes' and resp.read() == b'x'
