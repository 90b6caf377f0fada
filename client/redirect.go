package client

import (
	"errors"
	"net/http"
)

// maxRedirects is how many redirects one request follows, as net/http's
// default policy.
const maxRedirects = 10

// withRedirectPolicy returns hc, or a copy of it that follows redirects
// without carrying Cairn's credentials to another origin, if hc has no
// redirect policy of its own. A server with presigned downloads answers a
// blob GET with a redirect to the object store, whose URL carries its own
// signature: the object store must not see our bearer token (it is not its
// business, and S3 refuses a request authenticated twice). net/http keeps
// Authorization on a redirect to the same host name even on another port,
// so the origin (scheme, host and port) is compared here.
func withRedirectPolicy(hc *http.Client) *http.Client {
	if hc.CheckRedirect != nil {
		return hc
	}
	c := *hc
	c.CheckRedirect = stripCredentialsOnRedirect
	return &c
}

func stripCredentialsOnRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return errors.New("stopped after 10 redirects")
	}
	first := via[0].URL
	if req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
		req.Header.Del("Authorization")
		req.Header.Del("X-Cairn-User")
		req.Header.Del("Idempotency-Key")
		req.Header.Del("Cookie")
	}
	return nil
}
