package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Where DigitalOcean answers, unless configured otherwise.
const (
	DefaultAPIURL      = "https://api.digitalocean.com"
	DefaultMetadataURL = "http://169.254.169.254" // link-local on every droplet
)

// ErrInsecureURL means the API URL would send the token in clear text.
var ErrInsecureURL = errors.New("refusing an http:// API URL: the token would cross the network in clear text (set DO_FIP_INSECURE_API=1 only for a simulator)")

// APIBaseURL checks an API URL and returns it with a trailing slash (godo resolves "v2/..." against it, which
// drops a last path segment without one). It must be https (http only with allowHTTP, for a simulator), carry
// no credentials and name a host; "" is DefaultAPIURL.
func APIBaseURL(raw string, allowHTTP bool) (string, error) {
	if raw == "" {
		raw = DefaultAPIURL
	}
	u, err := checkURL(raw, allowHTTP)
	if err != nil {
		return "", err
	}
	if u.User != nil {
		return "", errors.New("the API URL must not carry credentials")
	}
	u.RawQuery, u.Fragment = "", ""
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
	}
	return u.String(), nil
}

// checkURL parses an absolute http(s) URL; plain http only with allowHTTP.
func checkURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%q is not an absolute URL", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowHTTP {
			return nil, fmt.Errorf("%s: %w", u.Redacted(), ErrInsecureURL)
		}
	default:
		return nil, fmt.Errorf("%q: scheme must be https or http", raw)
	}
	return u, nil
}
