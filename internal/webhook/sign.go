package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
)

// Sign returns the webhook-signature header of a delivery, as the Standard
// Webhooks specification has it: "v1," and the base64 of the HMAC-SHA256,
// keyed with the secret's key (cairn.WebhookKey), of the message id, the
// timestamp in unix seconds and the raw body, joined by dots.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strconv.FormatInt(timestamp, 10)))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
