package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/apptbridge/apptbridge"
	"github.com/apptbridge/apptbridge/auth"
	"github.com/apptbridge/apptbridge/store"
)

// Admin sign-in (SPEC §11): password → a code texted to the administrator
// and a 5-minute MFA token → the code → a 30-minute app token tied to a
// server-side session (idle logoff after 15 minutes, refreshable while
// active, 12 hours at most). The auth package has the primitives and the
// design notes; this file is the HTTP side.

// Sign-in lifetimes (the auth package's, named here for the handlers).
const (
	MFATokenTTL = auth.MFATokenTTL
	AppTokenTTL = auth.AppTokenTTL
	// SessionIdle ends a session nobody used for this long: requests that
	// a person made (not the page's automatic polls, see pollHeader)
	// and refreshes count as use.
	SessionIdle = auth.IdleTimeout
	// SessionMax bounds a session however often it is refreshed.
	SessionMax   = 12 * time.Hour
	LoginCodeTTL = auth.CodeTTL
	// LoginCodeTries is how many wrong codes one MFA token takes; the
	// next answer, right or wrong, is refused.
	LoginCodeTries = auth.CodeTries
	// AccountFailures bounds failed sign-ins from all addresses together
	// (NIST SP 800-63B: at most 100 consecutive failures per account).
	AccountFailures = 100
	AccountWindow   = 24 * time.Hour
)

// PasswordChecks bounds the password checks one process runs at once.
// Each argon2id check holds 19 MiB for about 100 ms, so a burst of
// sign-ins would otherwise cost memory without bound; and a request is
// checked against the failure limits again once it holds a slot, after
// the failures of the requests before it were counted, so a burst from
// one address gets at most PasswordChecks-1 guesses past the limit
// instead of one per request.
const PasswordChecks = 2

// accountKey is the single admin account's key in AuthConfig.Account.
const accountKey = "admin"

// pollHeader marks the admin page's automatic refreshes (dashboard,
// phone simulator): they are checked like any request but do not keep an
// idle session alive.
const pollHeader = "X-Apptbridge-Poll"

// AuthConfig wires the admin sign-in. A nil Password turns sign-in off
// (503 login_disabled).
type AuthConfig struct {
	Password   *auth.PasswordHash
	Keys       *auth.Keys
	AdminPhone string         // E.164; where codes are texted
	Limiter    FailureCounter // failures per client IP (10 per 15 minutes)
	Account    FailureCounter // failures of the account from anywhere (AccountFailures per AccountWindow); nil for none
	// CustomerName is shown on the sign-in page.
	CustomerName string
}

type authConfigJSON struct {
	Sandbox        bool   `json:"sandbox"`
	LoginEnabled   bool   `json:"login_enabled"`
	CustomerName   string `json:"customer_name"`
	AdminPhoneHint string `json:"admin_phone_hint"`
}

func (a *API) authConfig(w http.ResponseWriter, r *http.Request) {
	c := a.cfg.Auth
	writeJSON(w, http.StatusOK, authConfigJSON{Sandbox: a.cfg.Sandbox, LoginEnabled: c != nil && c.Password != nil,
		CustomerName: c.customerName(), AdminPhoneHint: phoneHint(c.adminPhone())})
}

func (c *AuthConfig) customerName() string {
	if c == nil {
		return ""
	}
	return c.CustomerName
}

func (c *AuthConfig) adminPhone() string {
	if c == nil {
		return ""
	}
	return c.AdminPhone
}

// phoneHint shows the last two digits of a phone ("…89"), enough for an
// operator to recognise it.
func phoneHint(p string) string {
	if len(p) < 4 {
		return ""
	}
	return "…" + p[len(p)-2:]
}

// clientIP is the peer's address. Forwarded headers are not trusted: a
// proxy in front should keep connections per client or be the only peer
// (see README, "Admin page").
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// notThrottled answers 429 when the client, or the account from
// anywhere, failed too often; false then.
func (a *API) notThrottled(w http.ResponseWriter, r *http.Request) bool {
	c, now, ip := a.cfg.Auth, a.cfg.Now(), clientIP(r)
	ok, after, err := c.Limiter.Allowed(r.Context(), ip, now)
	if err != nil {
		a.log.Warn("sign-in limit: counts unavailable, this process's own used", zap.String("ip", ip), zap.Error(err))
	}
	if ok && c.Account != nil {
		ok, after, err = c.Account.Allowed(r.Context(), accountKey, now)
		if err != nil {
			a.log.Warn("sign-in limit: account counts unavailable, this process's own used", zap.Error(err))
		}
	}
	if ok {
		return true
	}
	secs := int(after.Round(time.Second) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	writeError(w, http.StatusTooManyRequests, "throttled", "too many failed sign-in attempts; try again later", nil)
	return false
}

// limitTimeout bounds the writes of the failure counts.
const limitTimeout = 10 * time.Second

// failed counts a failed sign-in step against the client and the account.
// The count is written even when the client hangs up: a guess must not
// go uncounted because its request was cancelled.
func (a *API) failed(r *http.Request, ip string, now time.Time) {
	c := a.cfg.Auth
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), limitTimeout)
	defer cancel()
	if err := c.Limiter.Fail(ctx, ip, now); err != nil {
		a.log.Error("sign-in limit: count failure", zap.String("ip", ip), zap.Error(err))
	}
	if c.Account != nil {
		if err := c.Account.Fail(ctx, accountKey, now); err != nil {
			a.log.Error("sign-in limit: count account failure", zap.Error(err))
		}
	}
}

// signedIn forgets the client's and the account's failures.
func (a *API) signedIn(r *http.Request, ip string) {
	c := a.cfg.Auth
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), limitTimeout)
	defer cancel()
	if err := c.Limiter.Reset(ctx, ip); err != nil {
		a.log.Error("sign-in limit: reset", zap.String("ip", ip), zap.Error(err))
	}
	if c.Account != nil {
		if err := c.Account.Reset(ctx, accountKey); err != nil {
			a.log.Error("sign-in limit: reset account", zap.Error(err))
		}
	}
}

// decodeStrict reads a small JSON object into v, unknown fields refused.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any, shape string) bool {
	body, ok := readBody(w, r)
	if !ok {
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.Decode(&struct{}{}) != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid", "body must be "+shape, nil)
		return false
	}
	return true
}

func (a *API) loginDisabled(w http.ResponseWriter) bool {
	if a.cfg.Auth != nil && a.cfg.Auth.Password != nil && a.cfg.Auth.Keys != nil {
		return false
	}
	writeError(w, http.StatusServiceUnavailable, "login_disabled",
		"admin sign-in is off: set APPLICATION_PASSWORD (or APPLICATION_PASSWORD_HASH) and ADMINISTRATOR_PHONE_NUMBER", nil)
	return true
}

func (a *API) login(w http.ResponseWriter, r *http.Request) {
	if a.loginDisabled(w) || !a.notThrottled(w, r) {
		return
	}
	var in struct {
		Password string `json:"password"`
	}
	if !decodeStrict(w, r, &in, `{"password": "…"}`) {
		return
	}
	if !a.checkPassword(w, r, in.Password) {
		return
	}
	c, now, ip := a.cfg.Auth, a.cfg.Now(), clientIP(r)
	code, err := auth.NewCode()
	if err != nil {
		a.internal(w, "sign-in code", err)
		return
	}
	token, claims, err := c.Keys.Issue(auth.AudienceMFA, "", MFATokenTTL, now)
	if err != nil {
		a.internal(w, "sign-in token", err)
		return
	}
	if err := a.cfg.Store.SaveLoginCode(r.Context(), &store.LoginCode{ID: claims.ID, Hash: c.Keys.HashCode(claims.ID, code),
		ExpiresAt: now.Add(LoginCodeTTL), MaxTries: LoginCodeTries, CreatedAt: now}); err != nil {
		a.internal(w, "save sign-in code", err)
		return
	}
	body := "Your apptbridge sign-in code is " + code + ". It expires in 5 minutes. If you did not try to sign in, tell your administrator."
	err = a.cfg.Store.Update(r.Context(), func(ctx context.Context, tx store.Tx) error {
		_, err := tx.AddText(ctx, &store.Text{ID: apptbridge.NewEventID(), Direction: store.DirOut, Kind: apptbridge.TextLoginCode,
			Phone: c.AdminPhone, Body: body, Immediate: true})
		return err
	})
	if err != nil {
		a.internal(w, "queue sign-in code", err)
		return
	}
	a.cfg.Kick()
	a.audit(r.Context(), r, "ip:"+ip, "login", "", "password accepted; code texted")
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_in": int(MFATokenTTL / time.Second),
		"sent_to": phoneHint(c.AdminPhone)})
}

// checkPassword verifies pw in one of the PasswordChecks slots, after
// checking the failure limits again there; a wrong password is counted
// before the slot is freed. When it returns false it has answered (401,
// 429, or nothing to a client that left while queued).
func (a *API) checkPassword(w http.ResponseWriter, r *http.Request, pw string) bool {
	select {
	case a.passwordSlots <- struct{}{}:
		defer func() { <-a.passwordSlots }()
	case <-r.Context().Done():
		return false
	}
	if !a.notThrottled(w, r) { // the failures of the requests before this one count now
		return false
	}
	c, now, ip := a.cfg.Auth, a.cfg.Now(), clientIP(r)
	if pw != "" && c.Password.Verify(pw) {
		return true
	}
	a.failed(r, ip, now)
	a.audit(r.Context(), r, "ip:"+ip, "login.failed", "", "wrong password")
	writeError(w, http.StatusUnauthorized, "unauthorized", "wrong password", nil)
	return false
}

func (a *API) mfa(w http.ResponseWriter, r *http.Request) {
	if a.loginDisabled(w) || !a.notThrottled(w, r) {
		return
	}
	var in struct {
		Token string `json:"token"`
		Code  string `json:"code"`
	}
	if !decodeStrict(w, r, &in, `{"token": "…", "code": "123456"}`) {
		return
	}
	c, now, ip := a.cfg.Auth, a.cfg.Now(), clientIP(r)
	claims, err := c.Keys.Verify(in.Token, auth.AudienceMFA, now)
	if err != nil {
		a.failed(r, ip, now)
		writeError(w, http.StatusUnauthorized, "unauthorized", "invalid or expired sign-in token; sign in again", nil)
		return
	}
	if _, ok := auth.NormalizeCode(in.Code); !ok {
		// A typo, not a guess: no try is used up.
		writeError(w, http.StatusBadRequest, "invalid", "the code is 6 digits",
			[]FieldError{{Field: "code", Message: "must be 6 digits"}})
		return
	}
	left, err := a.cfg.Store.UseLoginCode(r.Context(), claims.ID, now, c.Keys.CodeMatcher(claims.ID, in.Code))
	switch {
	case err == nil:
	case errors.Is(err, store.ErrCodeWrong):
		a.failed(r, ip, now)
		a.audit(r.Context(), r, "ip:"+ip, "mfa.failed", "", "wrong code")
		var b wrongCodeBody
		b.Error.Code, b.Error.Message, b.Error.TriesLeft = "wrong_code", "wrong code", left
		writeJSON(w, http.StatusUnauthorized, b)
		return
	case errors.Is(err, store.ErrCodeLocked):
		a.failed(r, ip, now)
		a.audit(r.Context(), r, "ip:"+ip, "mfa.failed", "", "locked")
		writeError(w, http.StatusUnauthorized, "locked", "too many wrong codes; sign in again", nil)
		return
	case errors.Is(err, store.ErrCodeExpired):
		a.failed(r, ip, now)
		a.audit(r.Context(), r, "ip:"+ip, "mfa.failed", "", "expired or used")
		writeError(w, http.StatusUnauthorized, "expired", "the code expired or was used; sign in again", nil)
		return
	default:
		a.internal(w, "check sign-in code", err)
		return
	}
	sid, err := auth.NewID()
	if err != nil {
		a.internal(w, "session id", err)
		return
	}
	sess := &store.Session{ID: sid, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(SessionMax)}
	if err := a.cfg.Store.CreateSession(r.Context(), sess); err != nil {
		a.internal(w, "create session", err)
		return
	}
	token, _, err := c.Keys.Issue(auth.AudienceApp, sess.ID, AppTokenTTL, now)
	if err != nil {
		a.internal(w, "app token", err)
		return
	}
	a.signedIn(r, ip)
	a.audit(r.Context(), r, "admin:"+sess.ID, "mfa", "", "signed in")
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_in": int(AppTokenTTL / time.Second)})
}

type wrongCodeBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		TriesLeft int    `json:"tries_left"`
	} `json:"error"`
}

func (a *API) refresh(w http.ResponseWriter, r *http.Request) {
	if a.loginDisabled(w) {
		return
	}
	sess, ok := a.adminSession(w, r, true)
	if !ok {
		return
	}
	now := a.cfg.Now()
	ttl := min(AppTokenTTL, sess.ExpiresAt.Sub(now))
	token, _, err := a.cfg.Auth.Keys.Issue(auth.AudienceApp, sess.ID, ttl, now)
	if err != nil {
		a.internal(w, "app token", err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"token": token, "expires_in": int(ttl / time.Second)})
}

func (a *API) logout(w http.ResponseWriter, r *http.Request) {
	if a.loginDisabled(w) {
		return
	}
	sess, ok := a.adminSession(w, r, false)
	if !ok {
		return
	}
	if err := a.cfg.Store.EndSession(r.Context(), sess.ID, "logout", a.cfg.Now()); err != nil {
		a.internal(w, "end session", err)
		return
	}
	a.audit(r.Context(), r, "admin:"+sess.ID, "logout", "", "")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// adminSession authenticates a bearer app token and its session (401
// otherwise). touch records the request as use of the session.
func (a *API) adminSession(w http.ResponseWriter, r *http.Request, touch bool) (*store.Session, bool) {
	tok, ok := bearer(r)
	if !ok {
		unauthorized(w, "a bearer token is required")
		return nil, false
	}
	return a.sessionOf(w, r, tok, touch)
}

func (a *API) sessionOf(w http.ResponseWriter, r *http.Request, tok string, touch bool) (*store.Session, bool) {
	if a.cfg.Auth == nil || a.cfg.Auth.Keys == nil {
		unauthorized(w, "admin sign-in is off")
		return nil, false
	}
	now := a.cfg.Now()
	claims, err := a.cfg.Auth.Keys.Verify(tok, auth.AudienceApp, now)
	if err != nil {
		unauthorized(w, "invalid or expired token")
		return nil, false
	}
	sess, err := a.cfg.Store.TouchSession(r.Context(), claims.SID, now, SessionIdle, touch)
	if errors.Is(err, store.ErrSessionEnded) || apptbridge.ErrorCode(err) == apptbridge.ENOTFOUND {
		unauthorized(w, "session ended (signed out, idle or expired); sign in again")
		return nil, false
	}
	if err != nil {
		a.internal(w, "session", err)
		return nil, false
	}
	return sess, true
}

func bearer(r *http.Request) (string, bool) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	tok = strings.TrimSpace(tok)
	return tok, ok && tok != ""
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="apptbridge", error="invalid_token"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", msg, nil)
}

// audit appends an admin action to the audit log. A failure is logged,
// not returned: the action already happened (reads) or committed.
func (a *API) audit(ctx context.Context, r *http.Request, actor, action, target, detail string) {
	e := &store.AuditEntry{At: a.cfg.Now(), Actor: actor, Action: action, Target: target, Detail: detail,
		RemoteIP: clientIP(r)}
	if err := a.cfg.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		a.log.Error("audit", zap.String("action", action), zap.Error(err))
	}
}

// auditAs records an action of the caller of an authenticated request.
func (a *API) auditAs(r *http.Request, action, target, detail string) {
	p, _ := PrincipalFrom(r.Context())
	a.audit(r.Context(), r, p.Actor(), action, target, detail)
}
