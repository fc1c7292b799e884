package configext

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
)

func TestCheckGoodBackend(t *testing.T) {
	b := newTestBackend(t)
	b.setListed(stream("a", `"dvr":{"episodes_url":""}`), stream("b"), stream("c"))
	b.pageSize = 2
	b.etags = true
	b.header.Set(headerEpisodes, "true")
	b.episodes["a"] = `{"episodes":[{"opened_at":1700000000000,"updated_at":1700000000000}]}`
	var out, errb bytes.Buffer
	url := strings.Replace(b.url("/cfg/streams"), "://", "://topsecret@", 1)
	code := CheckMain([]string{url}, &out, &errb)
	t.Logf("output:\n%s%s", out.String(), errb.String())
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"list: 3 stream(s) in 2 page(s)", "ETag honoured", "name query streams", "name query update_streams_list", "dynamic name via streams", "episodes of a: 1 episode", "the backend behaves"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output", want)
		}
	}
	if strings.Contains(out.String()+errb.String(), "topsecret") {
		t.Fatal("credentials printed")
	}
	for _, r := range b.requests() {
		if r.Auth != "Bearer topsecret" {
			t.Fatalf("request without credentials: %+v", r)
		}
	}
}

func TestCheckBrokenBackend(t *testing.T) {
	b := newTestBackend(t)
	b.setListed(stream("a"), `{"name":"bad","inputs":[{"url":"nope"}]}`, stream("a"))
	b.header.Set(headerSeparate, "true")
	b.header.Set(headerEpisodes, "true")
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case strings.HasSuffix(r.URL.Path, "/update_streams_list"):
			http.NotFound(w, r)
		case strings.HasSuffix(r.URL.Path, "/dynamic_streams_list"):
			http.Error(w, "db", http.StatusInternalServerError)
		case strings.HasSuffix(r.URL.Path, "/episodes"):
			w.Write([]byte(`{"episodes":[{"opened_at":5}]}`))
		default:
			return false
		}
		return true
	})
	var out, errb bytes.Buffer
	code := CheckMain([]string{b.url("/")}, &out, &errb)
	t.Logf("output:\n%s%s", out.String(), errb.String())
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{
		"FAIL  list: stream bad", "FAIL  list: stream a listed twice",
		"FAIL  name query update_streams_list: GET", "HTTP 404",
		"FAIL  dynamic name via dynamic_streams_list", "HTTP 500",
		"FAIL  episodes of", "problem(s) found",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in the output", want)
		}
	}
}

func TestCheckCommaSplitting(t *testing.T) {
	b := newTestBackend(t)
	b.setListed(stream("a"))
	// A backend that answers name=a but not name=a,x: it does not split.
	b.setFault(func(w http.ResponseWriter, r *http.Request) bool {
		if n := r.URL.Query().Get("name"); strings.Contains(n, ",") {
			w.Write([]byte(`{"streams":[]}`))
			return true
		}
		return false
	})
	var out bytes.Buffer
	if code := CheckMain([]string{b.url("/")}, &out, &out); code != 1 || !strings.Contains(out.String(), "split name= on commas") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

func TestCheckDownBackend(t *testing.T) {
	b := newTestBackend(t)
	url := b.url("/")
	b.srv.Close()
	var out bytes.Buffer
	if code := CheckMain([]string{"-timeout", "1s", url}, &out, &out); code != 1 || !strings.Contains(out.String(), "FAIL  list") {
		t.Fatalf("exit %d:\n%s", code, out.String())
	}
}

func TestCheckUsage(t *testing.T) {
	for _, args := range [][]string{nil, {"a", "b"}, {"-nope", "http://h/"}, {"ftp://h/"}, {"-timeout", "0s", "http://h/"}} {
		var out, errb bytes.Buffer
		if code := CheckMain(args, &out, &errb); code != 2 {
			t.Fatalf("%q: exit %d", args, code)
		}
		if errb.Len() == 0 {
			t.Fatalf("%q: no message", args)
		}
	}
}
