package setup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// GitHub is the few calls of the GitHub REST API (version 2022-11-28) that
// setup needs, over net/http: a base URL (https://api.github.com, or a
// GitHub Enterprise Server's /api/v3) and a token.
type GitHub struct {
	BaseURL string
	Token   string
	HTTP    *http.Client
	// scopes is the X-OAuth-Scopes header of the last response: present for
	// classic personal access tokens and OAuth tokens, absent for
	// fine-grained and app tokens (docs.github.com, "Scopes for OAuth apps").
	scopes *[]string
}

// APIError is a response other than 2xx, with what to do about it.
type APIError struct {
	Method, Path string
	Status       int
	Message      string // GitHub's "message"
	// Permission is what a fine-grained token needs for this call, e.g.
	// "repository permission Administration: write".
	Permission string
	Fix        string // set by the caller when it knows better
}

func (e *APIError) Error() string {
	msg := fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, e.Message)
	switch {
	case e.Fix != "":
		return msg + ": " + e.Fix
	case e.Status == http.StatusUnauthorized:
		return msg + ": the token is invalid or expired; log in again with `gh auth login -s repo,read:org`, or set GH_TOKEN to a valid token"
	case e.Status == http.StatusForbidden && e.Permission != "":
		return msg + ": the token may not do this; a fine-grained token needs the " + e.Permission +
			" on this repository, a classic token the scope repo (and read:org for team reviewers): `gh auth refresh -s repo,read:org`"
	}
	return msg
}

// IsNotFound says whether err is a 404 from GitHub.
func IsNotFound(err error) bool {
	var ae *APIError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound
}

func statusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// call sends one request; body (if not nil) is sent as JSON and a 2xx
// response is decoded into out (if not nil). perm names what a fine-grained
// token needs, for the error message.
func (g *GitHub) call(ctx context.Context, method, path, perm string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(g.BaseURL, "/")+path, rd)
	if err != nil {
		return err
	}
	// The headers GitHub documents for every REST call ("Getting started
	// with the REST API": Accept, X-GitHub-Api-Version, Authorization).
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("X-GitHub-Api-Version", "2022-11-28")
	req.Header.Set("Authorization", "Bearer "+g.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := g.HTTP
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if h, ok := resp.Header["X-Oauth-Scopes"]; ok {
		var s []string
		for _, v := range strings.Split(strings.Join(h, ","), ",") {
			if v = strings.TrimSpace(v); v != "" {
				s = append(s, v)
			}
		}
		g.scopes = &s
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		var m struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &m)
		if m.Message == "" {
			m.Message = strings.TrimSpace(string(data))
		}
		return &APIError{Method: method, Path: path, Status: resp.StatusCode, Message: m.Message, Permission: perm}
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: unexpected response: %w", method, path, err)
		}
	}
	return nil
}

// Scopes returns the classic token's scopes, and false for a token that
// has none (fine-grained, GitHub App), whose permissions show only as 403s.
func (g *GitHub) Scopes() ([]string, bool) {
	if g.scopes == nil {
		return nil, false
	}
	return *g.scopes, true
}
