package cairn

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// Passwords are hashed with PBKDF2-HMAC-SHA256 (the standard library's
// crypto/pbkdf2) and stored as
//
//	pbkdf2-sha256$<iterations>$<salt, base64>$<key, base64>
//
// so that the iteration count can be raised later without invalidating
// existing hashes.

// DefaultPasswordIterations is OWASP's 2023 recommendation for
// PBKDF2-HMAC-SHA256.
const DefaultPasswordIterations = 600_000

// MinPasswordLength is the shortest password accepted, in bytes.
const MinPasswordLength = 12

// HashPassword returns the stored form of a password. EINVALID if it is
// shorter than MinPasswordLength or longer than 1024 bytes.
func HashPassword(password string, iterations int) (string, error) {
	if len(password) < MinPasswordLength {
		return "", Errorf(EINVALID, "password is too short: use at least %d characters", MinPasswordLength)
	}
	if len(password) > 1024 {
		return "", Errorf(EINVALID, "password is too long: at most 1024 bytes")
	}
	if iterations < 1 {
		iterations = DefaultPasswordIterations
	}
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails on supported platforms
	key, err := pbkdf2.Key(sha256.New, password, salt, iterations, 32)
	if err != nil {
		return "", WrapError(EINTERNAL, err, "hash password")
	}
	return "pbkdf2-sha256$" + strconv.Itoa(iterations) + "$" +
		base64.RawStdEncoding.EncodeToString(salt) + "$" + base64.RawStdEncoding.EncodeToString(key), nil
}

// CheckPassword reports whether password matches a stored hash, comparing
// in constant time. A malformed or empty hash matches nothing.
func CheckPassword(stored, password string) bool {
	parts := strings.Split(stored, "$")
	if len(parts) != 4 || parts[0] != "pbkdf2-sha256" || len(password) > 1024 {
		return false
	}
	iter, err := strconv.Atoi(parts[1])
	if err != nil || iter < 1 || iter > 100_000_000 {
		return false
	}
	salt, err1 := base64.RawStdEncoding.DecodeString(parts[2])
	want, err2 := base64.RawStdEncoding.DecodeString(parts[3])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, salt, iter, len(want))
	return err == nil && subtle.ConstantTimeCompare(got, want) == 1
}

// TokenPrefix starts every API token, so that a token is recognisable
// (secret scanners, a token passed where a password is expected).
const TokenPrefix = "cairn_"

// NewTokenSecret returns a new random API token (256 bits) and its public
// id.
func NewTokenSecret() (secret, id string) {
	var b [32]byte
	_, _ = rand.Read(b[:])
	var i [8]byte
	_, _ = rand.Read(i[:])
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(b[:]), hex.EncodeToString(i[:])
}

// HashToken returns the stored form of a token secret: its SHA-256, hex.
// A token has 256 random bits, so a fast hash is enough: there is nothing
// to brute-force.
func HashToken(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}
