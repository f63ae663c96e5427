// Package auth holds the admin page's sign-in primitives: the password
// hash, the tokens, the texted sign-in codes and the failure limiter. It
// does no I/O and reads no clock: callers pass the time in, so it is
// tested with a fake one. The HTTP handlers and the store (store.Admin)
// live elsewhere; this package only says how to check things.
//
// # Sign-in
//
// There is one administrator. Signing in takes two steps:
//
//  1. POST /auth/login {"password"}. If the client's IP is not throttled
//     (Limiter.Allowed) and the password verifies (PasswordHash.Verify),
//     the server issues an MFA token (Keys.Issue, audience "mfa", 5
//     minutes), makes a code (NewCode), stores only its keyed hash under
//     the token's jti (Keys.HashCode, store.LoginCode with CodeTTL and
//     CodeTries) and texts the code to ADMINISTRATOR_PHONE_NUMBER. A wrong
//     password counts a failure (Limiter.Fail) and gets 401.
//  2. POST /auth/mfa {"code","token"}. The server verifies the MFA token
//     (Keys.Verify with "mfa"), answers the stored code with
//     store.Admin.UseLoginCode(jti, Keys.CodeMatcher(jti, guess)), and on
//     success creates a session (store.Session) and issues an app token
//     (audience "app", 30 minutes) carrying the session id as sid. A wrong
//     code counts a failure too; Limiter.Reset clears the IP on success.
//
// App tokens go in "Authorization: Bearer …". On every request the server
// verifies the token (Keys.Verify with "app") and then touches its
// session (store.Admin.TouchSession with IdleTimeout, 15 minutes): a
// session left idle that long, logged out, or past its absolute end is
// over even though its token has not expired. POST /auth/refresh trades a
// valid app token of an open session for a new one with the same sid, so
// an active administrator stays signed in while an idle one is logged off.
//
// # Keys
//
// A random secret kept in the store (store.Admin.Secret, the same bytes
// for every process) and the SALT setting give, by HKDF-SHA256 with SALT
// as the HKDF salt and a label per use, two unrelated 256-bit keys: one
// signs tokens (HMAC-SHA256, "HS256"), one hashes codes. Changing SALT
// (or the secret) changes both, which ends every session and voids every
// outstanding code at the next request.
//
// # What each check is for
//
//   - Argon2id (19 MiB, 2 passes) with a random salt: a leaked hash costs
//     an attacker real work per guess. Verify always does the same work
//     and compares in constant time, so timing says nothing about how
//     close a guess was. ParsePasswordHash refuses hashes weaker than that
//     (an operator's APPLICATION_PASSWORD_HASH) and hostile ones that
//     would cost over 1 GiB or many seconds per attempt.
//   - Limiter: online guessing of the password or codes is slowed to 10
//     failures per IP per 15 minutes.
//   - Pinned algorithm (HS256 only, checked by the parser and again before
//     the key is handed out): defeats "alg":"none", RS/HS confusion
//     (verifying with a public key as an HMAC secret) and downgrades or
//     side-grades to other algorithms.
//   - Strict base64 and a length cap: one spelling per token, bounded
//     parsing work.
//   - iss and sub: a token signed for something else is not ours.
//   - aud: an MFA token (password only) cannot be used as an app token
//     (password and code), and an app token cannot stand in for an MFA
//     token to answer a code.
//   - exp required, iat required and not in the future (Leeway of clock
//     skew): stolen tokens expire, and no token outlives MaxTokenTTL.
//   - jti: ties a code to the one MFA token it was sent for (the code's
//     hash covers the jti), so a code cannot be replayed with another
//     token; the store uses it up after one right answer or CodeTries
//     wrong ones.
//   - sid: ties an app token to a server-side session, so logout, idle
//     logoff and session expiry take effect before the token expires.
//   - Codes: 6 digits from crypto/rand with no modulo bias, kept only as a
//     keyed hash (a leaked table does not give them away, even by trying
//     all 10^6), compared in constant time.
//
// Errors never carry a password, code, token or key; Verify's errors wrap
// ErrInvalidToken and only say why in general terms.
package auth
