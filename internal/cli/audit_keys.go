package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"github.com/cairn-registry/cairn"
)

// Audit checkpoint keys are ed25519 keys in PEM files: the private key as
// PKCS #8 ("PRIVATE KEY", what openssl genpkey -algorithm ed25519 writes),
// the public key as PKIX ("PUBLIC KEY", openssl pkey -pubout).

// readAuditPrivateKey reads an ed25519 private key file.
func readAuditPrivateKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "audit key")
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, cairn.Errorf(cairn.EINVALID, "audit key %s: want a PEM \"PRIVATE KEY\" block (from cairn audit keygen)", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "audit key %s", path)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, cairn.Errorf(cairn.EINVALID, "audit key %s: a %T, want an ed25519 key", path, k)
	}
	return priv, nil
}

// readAuditPublicKey reads an ed25519 public key file.
func readAuditPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "public key")
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PUBLIC KEY" {
		return nil, cairn.Errorf(cairn.EINVALID, "public key %s: want a PEM \"PUBLIC KEY\" block (from cairn audit keygen)", path)
	}
	k, err := x509.ParsePKIXPublicKey(blk.Bytes)
	if err != nil {
		return nil, cairn.WrapError(cairn.EINVALID, err, "public key %s", path)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, cairn.Errorf(cairn.EINVALID, "public key %s: a %T, want an ed25519 key", path, k)
	}
	return pub, nil
}

// writeAuditKeyPair writes a new key pair to priv (mode 0600) and pub
// (0644), refusing to overwrite either.
func writeAuditKeyPair(privPath, pubPath string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		mode os.FileMode
		typ  string
		der  []byte
	}{{privPath, 0o600, "PRIVATE KEY", privDER}, {pubPath, 0o644, "PUBLIC KEY", pubDER}} {
		if err := writeNewFile(f.path, f.mode, pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})); err != nil {
			return nil, err
		}
	}
	return pub, nil
}

// writeNewFile creates path with data, failing if it exists.
func writeNewFile(path string, mode os.FileMode, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if errors.Is(err, os.ErrExist) {
		return cairn.Errorf(cairn.ECONFLICT, "%s exists; keygen never overwrites a key", path)
	}
	if err != nil {
		return cairn.WrapError(cairn.EINVALID, err, "create %s", path)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	return f.Close()
}
