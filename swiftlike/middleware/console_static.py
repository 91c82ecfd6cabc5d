"""The console's one script and one style sheet (served by the console
itself from these strings: no build step, nothing fetched from elsewhere)."""

SCRIPT = r"""'use strict';
// Live numbers: every few seconds, fetch the page's JSON ({key: [text, state]})
// and put each text into the element with data-live="key" (as text, never HTML).
(function () {
  const body = document.body;
  const url = body && body.dataset.poll;
  const stamp = document.getElementById('updated');
  let failures = 0;
  async function poll() {
    try {
      const resp = await fetch(url, {credentials: 'same-origin', cache: 'no-store'});
      if (resp.status === 401 || resp.status === 403) {
        stamp.textContent = 'signed out (' + resp.status + '): reload to sign in';
        return;
      }
      if (!resp.ok) throw new Error('HTTP ' + resp.status);
      const values = await resp.json();
      for (const el of document.querySelectorAll('[data-live]')) {
        const value = values[el.dataset.live];
        if (!value) continue;
        el.textContent = value[0];
        el.className = value[1] ? 'st-' + value[1] : '';
      }
      failures = 0;
      stamp.textContent = 'updated ' + new Date().toLocaleTimeString();
      body.dataset.polls = String(Number(body.dataset.polls || '0') + 1);
    } catch (err) {
      failures += 1;
      stamp.textContent = 'update failed: ' + err.message;
    }
    setTimeout(poll, failures ? 5000 : 2000);
  }
  if (url) setTimeout(poll, 500);

  // Sign in: with user and key, get a token from the cluster's auth first
  // (same origin), then post only the token.
  const form = document.getElementById('login');
  if (form) {
    form.addEventListener('submit', async function (event) {
      const token = document.getElementById('token');
      const user = document.getElementById('user');
      const key = document.getElementById('key');
      if (token.value || !user.value) return;
      event.preventDefault();
      const message = document.getElementById('message');
      try {
        const resp = await fetch(form.dataset.auth, {
          headers: {'X-Auth-User': user.value, 'X-Auth-Key': key.value},
          credentials: 'omit', cache: 'no-store'});
        if (!resp.ok || !resp.headers.get('X-Auth-Token')) {
          message.textContent = 'Sign in failed: ' + resp.status;
          message.className = 'st-bad';
          return;
        }
        token.value = resp.headers.get('X-Auth-Token');
        key.value = '';
        HTMLFormElement.prototype.submit.call(form);
      } catch (err) {
        message.textContent = 'Sign in failed: ' + err.message;
        message.className = 'st-bad';
      }
    });
  }
})();
"""

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d232b; background: #f4f6f8; }
header { background: #1f3a5a; color: #fff; padding: 8px 16px; display: flex;
         align-items: center; gap: 24px; }
header h1 { font-size: 18px; margin: 0; }
nav a { color: #cfe0f5; margin-right: 16px; text-decoration: none; }
nav a.here { color: #fff; font-weight: bold; border-bottom: 2px solid #fff; }
.logout { margin-left: auto; }
main { padding: 8px 16px; }
h2 { font-size: 16px; margin: 8px 0; }
table { border-collapse: collapse; margin: 0 0 16px; background: #fff;
        box-shadow: 0 1px 2px rgba(0,0,0,.12); }
caption { text-align: left; font-weight: bold; padding: 4px 0; }
th, td { padding: 3px 10px; white-space: nowrap; border-bottom: 1px solid #e2e6ea;
         text-align: right; }
th { background: #e9eef3; }
td:first-child, th:first-child { text-align: left; }
.st-ok { color: #17702e; }
.st-bad { color: #fff; background: #b3261e; font-weight: bold; }
footer { padding: 8px 16px; color: #5b6570; font-size: 12px; }
form#login label { display: block; margin: 6px 0; }
form#login input { width: 28em; }
"""
