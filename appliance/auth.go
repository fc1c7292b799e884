package appliance

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/netio"
)

// access is what an API route needs from its caller.
type access uint8

const (
	accessOpen access = iota // anyone (health probes, the API description)
	accessView               // view_auth, when set, or edit_auth
	accessEdit               // edit_auth, when set, else view_auth, when set
)

// authChallenge is sent with 401: both schemes take the same login:password.
const authChallenge = `Basic realm="livedge", charset="UTF-8", Bearer realm="livedge"`

// credentials are a login and password from an Authorization header.
type credentials struct {
	user, pass string
	ok         bool
}

// parseAuthorization reads "Basic base64(user:pass)" or, as Flussonic
// accepts, "Bearer base64(user:pass)".
func parseAuthorization(h string) credentials {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !(strings.EqualFold(scheme, "Basic") || strings.EqualFold(scheme, "Bearer")) {
		return credentials{}
	}
	token = strings.TrimSpace(token)
	if len(token) > 4096 {
		return credentials{}
	}
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		if raw, err = base64.RawStdEncoding.DecodeString(token); err != nil {
			return credentials{}
		}
	}
	user, pass, ok := strings.Cut(string(raw), ":")
	if !ok {
		return credentials{}
	}
	return credentials{user: user, pass: pass, ok: true}
}

// matches compares credentials with a configured pair in constant time: both
// sides are hashed first so that neither the content nor the length of the
// secret shows in the time taken.
func (c credentials) matches(a *config.Auth) bool {
	if a == nil || !c.ok {
		return false
	}
	gotUser, gotPass := sha256.Sum256([]byte(c.user)), sha256.Sum256([]byte(c.pass))
	wantUser, wantPass := sha256.Sum256([]byte(a.User)), sha256.Sum256([]byte(a.Password))
	u := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
	p := subtle.ConstantTimeCompare(gotPass[:], wantPass[:])
	return u&p == 1
}

// allowed says whether the request's credentials grant need under cfg.
// Edit credentials grant reads too. Without edit_auth, mutating calls need
// view_auth when that is set: writes are never less guarded than reads.
func allowed(cfg *config.Config, h netio.Header, need access) bool {
	switch need {
	case accessView:
		if cfg.ViewAuth == nil {
			return true
		}
		c := parseAuthorization(h.Get("Authorization"))
		return c.matches(cfg.ViewAuth) || c.matches(cfg.EditAuth)
	case accessEdit:
		switch {
		case cfg.EditAuth != nil:
			return parseAuthorization(h.Get("Authorization")).matches(cfg.EditAuth)
		case cfg.ViewAuth != nil:
			return parseAuthorization(h.Get("Authorization")).matches(cfg.ViewAuth)
		}
		return true
	}
	return true
}
