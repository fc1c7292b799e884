package appliance

import (
	"encoding/base64"
	"testing"

	"github.com/livedge/livedge/appliance/config"
	"github.com/livedge/livedge/netio"
)

func basic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

func TestParseAuthorization(t *testing.T) {
	enc := base64.StdEncoding.EncodeToString([]byte("root:pa:ss word"))
	cases := []struct {
		h          string
		user, pass string
		ok         bool
	}{
		{"Basic " + enc, "root", "pa:ss word", true},
		{"bearer " + enc, "root", "pa:ss word", true},
		{"Bearer cm9vdDpwYXNzd29yZA==", "root", "password", true}, // Flussonic's k8s probes
		{"Bearer cm9vdDpwYXNzd29yZA", "root", "password", true},   // unpadded
		{"Basic", "", "", false},
		{"Digest " + enc, "", "", false},
		{"Basic !!!", "", "", false},
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("nocolon")), "", "", false},
		{"", "", "", false},
	}
	for _, c := range cases {
		got := parseAuthorization(c.h)
		if got.ok != c.ok || got.user != c.user || got.pass != c.pass {
			t.Errorf("%q: %+v", c.h, got)
		}
	}
}

func TestAllowed(t *testing.T) {
	edit := &config.Auth{User: "admin", Password: "a"}
	view := &config.Auth{User: "viewer", Password: "v"}
	hdr := func(h string) netio.Header {
		if h == "" {
			return nil
		}
		return netio.Header{{Name: "Authorization", Value: h}}
	}
	cases := []struct {
		name       string
		cfg        config.Config
		auth       string
		view, edit bool
	}{
		{"open", config.Config{}, "", true, true},
		{"edit only, anonymous", config.Config{EditAuth: edit}, "", true, false},
		{"edit only, admin", config.Config{EditAuth: edit}, basic("admin", "a"), true, true},
		{"edit only, wrong password", config.Config{EditAuth: edit}, basic("admin", "x"), true, false},
		{"both, anonymous", config.Config{EditAuth: edit, ViewAuth: view}, "", false, false},
		{"both, viewer", config.Config{EditAuth: edit, ViewAuth: view}, basic("viewer", "v"), true, false},
		{"both, admin", config.Config{EditAuth: edit, ViewAuth: view}, basic("admin", "a"), true, true},
		{"view only, anonymous", config.Config{ViewAuth: view}, "", false, false},
		{"view only, viewer", config.Config{ViewAuth: view}, basic("viewer", "v"), true, true},
		{"user of one, password of other", config.Config{EditAuth: edit, ViewAuth: view}, basic("admin", "v"), false, false},
	}
	for _, c := range cases {
		if got := allowed(&c.cfg, hdr(c.auth), accessView); got != c.view {
			t.Errorf("%s: view %v", c.name, got)
		}
		if got := allowed(&c.cfg, hdr(c.auth), accessEdit); got != c.edit {
			t.Errorf("%s: edit %v", c.name, got)
		}
		if !allowed(&c.cfg, hdr(c.auth), accessOpen) {
			t.Errorf("%s: open refused", c.name)
		}
	}
}
