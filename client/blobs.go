package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/cairn-registry/cairn"
)

// StatBlob returns the size of a blob; not_found if the server lacks it.
func (c *Client) StatBlob(ctx context.Context, d cairn.Digest) (int64, error) {
	resp, err := c.send(ctx, request{method: http.MethodHead, path: apiPath("blobs", string(d))})
	if err != nil {
		return 0, err
	}
	drainClose(resp.Body)
	return resp.ContentLength, nil
}

// OpenBlob streams a blob. The caller must close the reader and should
// verify the digest of what it reads (Pull does). size is the blob's
// length as the server announced it.
func (c *Client) OpenBlob(ctx context.Context, d cairn.Digest) (rc io.ReadCloser, size int64, err error) {
	resp, err := c.send(ctx, request{method: http.MethodGet, path: apiPath("blobs", string(d)), status: []int{http.StatusOK}})
	if err != nil {
		return nil, 0, err
	}
	if got := resp.Header.Get("X-Cairn-Digest"); got != "" && got != string(d) {
		drainClose(resp.Body)
		return nil, 0, fmt.Errorf("GET blob %s: the server sent blob %s", d, got)
	}
	return resp.Body, resp.ContentLength, nil
}

// OpenBlobRange streams length bytes of a blob from offset (length < 0:
// to the end), with an HTTP Range request.
func (c *Client) OpenBlobRange(ctx context.Context, d cairn.Digest, offset, length int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, cairn.Errorf(cairn.EINVALID, "negative offset %d", offset)
	}
	rng := "bytes=" + strconv.FormatInt(offset, 10) + "-"
	if length >= 0 {
		if length == 0 {
			return io.NopCloser(eofReader{}), nil
		}
		rng += strconv.FormatInt(offset+length-1, 10)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+apiPath("blobs", string(d)), nil)
	if err != nil {
		return nil, err
	}
	c.setHeaders(req)
	req.Header.Set("Range", rng)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET blob %s: %w", d, err)
	}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		return resp.Body, nil
	case http.StatusOK:
		drainClose(resp.Body)
		return nil, fmt.Errorf("GET blob %s: the server ignored the Range header", d)
	}
	defer drainClose(resp.Body)
	return nil, decodeError(resp)
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// PutBlob uploads a blob in one request, streaming r. size is the number
// of bytes r yields (-1 if unknown: sent chunked). The server keeps the
// blob only if the bytes hash to d and their count is size; otherwise
// invalid. Large files go faster and resumably through upload sessions;
// Push chooses.
func (c *Client) PutBlob(ctx context.Context, d cairn.Digest, size int64, r io.Reader) error {
	_, err := c.do(ctx, request{method: http.MethodPut, path: apiPath("blobs", string(d)), body: r, size: size})
	return err
}

// StartUpload opens an upload session for a blob sent in parts. If the
// server has an unexpired session for the same digest and size, it
// returns that one, with the parts it has received, and resumed is true.
func (c *Client) StartUpload(ctx context.Context, d cairn.Digest, size int64) (up *cairn.Upload, resumed bool, err error) {
	up = &cairn.Upload{}
	status, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("uploads"), in: uploadRequest{Digest: d, Size: size}, out: up})
	return up, status == http.StatusOK, err
}

// GetUpload returns an upload session with its received parts.
func (c *Client) GetUpload(ctx context.Context, id string) (*cairn.Upload, error) {
	var up cairn.Upload
	_, err := c.do(ctx, request{method: http.MethodGet, path: apiPath("uploads", id), out: &up})
	return &up, err
}

// UploadPart sends part n (1-based) of an upload session, streaming size
// bytes from r, and returns what the server received. Re-sending a part
// replaces it. Parts other than the last must be at least
// cairn.MinPartSize bytes.
func (c *Client) UploadPart(ctx context.Context, id string, n int, size int64, r io.Reader) (*cairn.Part, error) {
	var p cairn.Part
	_, err := c.do(ctx, request{method: http.MethodPut, path: apiPath("uploads", id, "parts", strconv.Itoa(n)), body: r, size: size, out: &p})
	return &p, err
}

// CompleteUpload joins an upload's parts into its blob. invalid if the
// bytes do not hash to the session's digest (the session is then gone);
// failed_precondition if parts are missing.
func (c *Client) CompleteUpload(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodPost, path: apiPath("uploads", id, "complete"), in: struct{}{}})
	return err
}

// AbortUpload releases an upload session and its parts.
func (c *Client) AbortUpload(ctx context.Context, id string) error {
	_, err := c.do(ctx, request{method: http.MethodDelete, path: apiPath("uploads", id)})
	return err
}
