// tokengate's one page script: the browser's half of WebAuthn, on the sign-in page ("Sign in with
// a security key") and on My cards and security keys ("Register a security key"). Served from
// /assets like the stylesheet (the Content-Security-Policy allows our own scripts only, nothing
// inline); everything else on the pages works without it. Each ceremony: a same-origin POST with
// the page's CSRF token fetches the options (JSON), navigator.credentials makes the key answer,
// and the answer goes in a plain form whose page the server answers like any other. Binary
// fields travel base64url, as in WebAuthn's JSON; nothing is kept, logged or sent elsewhere.
'use strict';
(() => {
  const fromB64u = (text) => {
    const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  };
  const toB64u = (buffer) => {
    let binary = '';
    for (const byte of new Uint8Array(buffer)) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  };

  /** What a person reads when the browser or the key says no (the key's own errors name no secret). */
  const browserRefusal = (err) => {
    const name = err && err.name;
    if (name === 'NotAllowedError') return 'The security key did not answer: it was not touched in time, or the request was cancelled. Try again.';
    if (name === 'InvalidStateError') return 'This security key is registered already.';
    if (name === 'SecurityError') return 'This browser refused to use a security key at this address.';
    return 'The security key could not be used here. Try again, or sign in with your password and security token.';
  };

  /** POSTs the fields as a form (with the page's CSRF token) and reads the JSON answer; a refusal throws its sentence. */
  async function options(path, csrf, fields) {
    const body = new URLSearchParams({ ...fields, _csrf: csrf });
    let response;
    try {
      response = await fetch(path, { method: 'POST', body, credentials: 'same-origin', headers: { accept: 'application/json' } });
    } catch {
      throw new Error('The server could not be reached. Check the connection and try again.');
    }
    const json = (response.headers.get('content-type') || '').startsWith('application/json') ? await response.json() : undefined;
    if (!response.ok || !json || json.error) throw new Error((json && json.error) || 'This page has expired. Reload it and try again.');
    return json;
  }

  /**
   * Runs a ceremony on `type` events of `target` (the button's click, the form's submit) with the
   * root's status line and error box; `run` does the work, its thrown sentence is shown (role=alert).
   */
  function ceremony(root, button, [target, type], run) {
    const status = root.querySelector('[data-key-status]');
    const error = root.querySelector('[data-key-error]');
    target.addEventListener(type, async (event) => {
      event.preventDefault();
      error.textContent = '';
      button.disabled = true;
      try {
        await run((text) => (status.textContent = text));
      } catch (err) {
        status.textContent = '';
        error.textContent = err instanceof Error && !(err instanceof DOMException) ? err.message : browserRefusal(err);
        button.disabled = false;
      }
    });
  }

  function fill(form, values) {
    for (const [name, value] of Object.entries(values)) form.elements.namedItem(name).value = value;
  }

  function signIn(root) {
    const main = document.getElementById('sign-in');
    const answer = document.querySelector('[data-key-answer]');
    const button = root.querySelector('[data-key-start]');
    const csrf = answer.elements.namedItem('_csrf').value;
    ceremony(root, button, [button, 'click'], async (say) => {
      const username = main.elements.namedItem('username').value.trim();
      const password = main.elements.namedItem('password');
      say('Asking the server…');
      const o = await options('/account/sign-in/key/options', csrf, username ? { username } : {});
      if (o.passwordRequired && !password.value) {
        password.focus();
        throw new Error('Your account needs your password with the security key: type it in the Password field, then use the key again.');
      }
      say('Touch your security key (and enter its PIN if it asks).');
      const credential = await navigator.credentials.get({
        publicKey: {
          challenge: fromB64u(o.challenge),
          rpId: o.rpId,
          allowCredentials: o.allowCredentialIds.map((id) => ({ type: 'public-key', id: fromB64u(id) })),
          userVerification: o.userVerification,
          timeout: o.timeoutMs,
        },
      });
      if (!credential) throw new Error('The security key did not answer. Try again.');
      say('Signing in…');
      const r = credential.response;
      fill(answer, {
        username,
        password: password.value,
        challengeId: o.challengeId,
        credentialId: toB64u(credential.rawId),
        authenticatorData: toB64u(r.authenticatorData),
        clientDataJSON: toB64u(r.clientDataJSON),
        signature: toB64u(r.signature),
      });
      answer.submit();
    });
  }

  function register(form) {
    const button = form.querySelector('button[type="submit"]');
    const password = form.querySelector('[data-key-password]');
    const csrf = form.elements.namedItem('_csrf').value;
    ceremony(form, button, [form, 'submit'], async (say) => {
      say('Checking your password…');
      const o = await options('/account/keys/options', csrf, { password: password.value });
      say('Touch your security key (and enter or set its PIN if it asks).');
      const credential = await navigator.credentials.create({
        publicKey: {
          challenge: fromB64u(o.challenge),
          rp: o.rp,
          user: { id: fromB64u(o.user.id), name: o.user.name, displayName: o.user.displayName },
          pubKeyCredParams: o.algorithms.map((alg) => ({ type: 'public-key', alg })),
          excludeCredentials: o.excludeCredentialIds.map((id) => ({ type: 'public-key', id: fromB64u(id) })),
          // Discoverable where the key can: then it signs in without a username too.
          authenticatorSelection: { residentKey: 'preferred', requireResidentKey: false, userVerification: o.userVerification },
          attestation: 'none',
          timeout: o.timeoutMs,
        },
      });
      if (!credential) throw new Error('The security key did not answer. Try again.');
      say('Registering…');
      const r = credential.response;
      // The password field has no name: it is never in the form that is sent.
      password.value = '';
      fill(form, {
        challengeId: o.challengeId,
        attestationObject: toB64u(r.attestationObject),
        clientDataJSON: toB64u(r.clientDataJSON),
        transports: typeof r.getTransports === 'function' ? r.getTransports().join(',') : '',
      });
      form.submit();
    });
  }

  const supported = typeof window.PublicKeyCredential === 'function' && !!navigator.credentials;
  if (!supported) {
    for (const note of document.querySelectorAll('[data-needs-webauthn]')) note.textContent = 'This browser cannot use security keys (WebAuthn). Use your password and security token instead.';
    return;
  }
  for (const note of document.querySelectorAll('[data-needs-webauthn]')) note.hidden = true;
  for (const root of document.querySelectorAll('[data-key-sign-in]')) {
    root.hidden = false;
    signIn(root);
  }
  for (const form of document.querySelectorAll('[data-key-register]')) {
    form.hidden = false;
    register(form);
  }
})();
