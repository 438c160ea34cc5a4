// The sign-in page: posts the credentials, and on success goes where the user was sent from, or
// to the role's home (crews to their phone page).
import { api, ApiError, homeFor } from './api.js';

const form = document.getElementById('login-form');
const username = document.getElementById('username');
const password = document.getElementById('password');
const errorBox = document.getElementById('login-error');
const submit = form.querySelector('button[type="submit"]');

/** Only a path on this site: never another origin (an open redirect). */
function nextPath(role) {
  const next = new URLSearchParams(location.search).get('next');
  if (next === null || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || next.startsWith('/login')) return homeFor(role);
  // A crew member sent to the console, or the reverse, lands on their own home.
  const wantsCrewPage = next.startsWith('/crew');
  if ((role === 'crew') !== wantsCrewPage && !(wantsCrewPage && (role === 'dispatcher' || role === 'admin'))) return homeFor(role);
  return next;
}

function showError(text) {
  errorBox.textContent = text;
  errorBox.classList.toggle('hidden', text === '');
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  showError('');
  if (username.value.trim() === '' || password.value === '') {
    showError('Enter your username and password.');
    (username.value.trim() === '' ? username : password).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = 'Signing in…';
  try {
    const who = await api('/api/v1/auth/login', { method: 'POST', body: { username: username.value.trim(), password: password.value }, redirectOn401: false });
    sessionStorage.setItem('tirta.displayName', who.display_name ?? who.username);
    location.replace(nextPath(who.role));
  } catch (error) {
    const body = error instanceof ApiError ? error.body : {};
    if (error instanceof ApiError && error.status === 400 && Array.isArray(body.issues)) showError(body.issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '));
    else showError(body.message || error.message || 'Sign-in failed.');
    password.select();
    submit.disabled = false;
    submit.textContent = 'Sign in';
  }
});

// Already signed in: straight on.
api('/api/v1/auth/me', { redirectOn401: false }).then(
  (me) => location.replace(nextPath(me.role)),
  () => username.focus(),
);
