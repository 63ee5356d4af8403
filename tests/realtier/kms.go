package realtier

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// FakeKMS is an in-process AWS KMS endpoint for the Pulumi CLI's awskms://
// secrets provider (gocloud.dev/secrets/awskms: Encrypt when a stack is
// created with it, Decrypt when its data key is read), reached through the
// AWS SDK's AWS_ENDPOINT_URL_KMS. Like KMS it refuses a key it does not
// hold: an alias must exist among the fake AWS provider's live
// aws:kms/alias resources (a bootstrap that has not run has no key), and a
// ciphertext decrypts only under the key that made it.
//
// The wire format is KMS's JSON 1.1 protocol (X-Amz-Target
// TrentService.<Operation>; AWS KMS API Reference, Encrypt and Decrypt).
// Ciphertexts are not encrypted: the fake checks who may read them, not
// cryptography.
type FakeKMS struct {
	// Aliases are the live aliases ("alias/…") and their keys' ARNs.
	Aliases func() map[string]string

	server *httptest.Server
	mu     sync.Mutex
	calls  []string // "Operation keyArn"
	// failNext answers the next n requests with a 500 (a partial failure).
	failNext int
}

// StartFakeKMS serves the fake on a loopback port.
func StartFakeKMS(aliases func() map[string]string) *FakeKMS {
	k := &FakeKMS{Aliases: aliases}
	k.server = httptest.NewServer(http.HandlerFunc(k.serve))
	return k
}

// URL is the endpoint, for AWS_ENDPOINT_URL_KMS.
func (k *FakeKMS) URL() string { return k.server.URL }

func (k *FakeKMS) Close() { k.server.Close() }

// FailNext makes the next n requests fail with KMSInternalException.
func (k *FakeKMS) FailNext(n int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.failNext = n
}

// Calls are the operations served, "Encrypt <key ARN>", in order.
func (k *FakeKMS) Calls() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]string(nil), k.calls...)
}

// fakeCiphertext is what the fake's ciphertext blob holds.
type fakeCiphertext struct {
	KeyArn    string `json:"keyArn"`
	Plaintext []byte `json:"plaintext"`
}

const fakeCiphertextPrefix = "realtier-fake-kms:"

func (k *FakeKMS) serve(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, typ, msg string) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
	}
	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "TrentService.")
	if r.Method != http.MethodPost || !ok || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-amz-json-1.1") {
		fail(400, "UnknownOperationException", "not a KMS JSON 1.1 request")
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256") {
		fail(400, "MissingAuthenticationTokenException", "request is not signed")
		return
	}
	k.mu.Lock()
	if k.failNext > 0 {
		k.failNext--
		k.mu.Unlock()
		fail(500, "KMSInternalException", "injected failure")
		return
	}
	k.mu.Unlock()
	var in struct {
		KeyId          string
		Plaintext      []byte
		CiphertextBlob []byte
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(400, "SerializationException", err.Error())
		return
	}
	reply := func(op, keyArn string, out map[string]any) {
		k.mu.Lock()
		k.calls = append(k.calls, op+" "+keyArn)
		k.mu.Unlock()
		out["KeyId"] = keyArn
		out["EncryptionAlgorithm"] = "SYMMETRIC_DEFAULT"
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_ = json.NewEncoder(w).Encode(out)
	}
	switch op {
	case "Encrypt":
		keyArn, ok := k.resolve(in.KeyId)
		if !ok {
			fail(400, "NotFoundException", fmt.Sprintf("Alias %s is not found.", in.KeyId))
			return
		}
		blob, _ := json.Marshal(fakeCiphertext{KeyArn: keyArn, Plaintext: in.Plaintext})
		reply(op, keyArn, map[string]any{"CiphertextBlob": append([]byte(fakeCiphertextPrefix), blob...)})
	case "Decrypt":
		body, ok := strings.CutPrefix(string(in.CiphertextBlob), fakeCiphertextPrefix)
		var c fakeCiphertext
		if !ok || json.Unmarshal([]byte(body), &c) != nil {
			fail(400, "InvalidCiphertextException", "")
			return
		}
		if !k.keyLive(c.KeyArn) {
			fail(400, "NotFoundException", "Key '"+c.KeyArn+"' does not exist")
			return
		}
		reply(op, c.KeyArn, map[string]any{"Plaintext": base64.StdEncoding.EncodeToString(c.Plaintext)})
	default:
		fail(400, "UnknownOperationException", op+" is not modelled by the fake KMS")
	}
}

// resolve: an alias name or ARN to its key's ARN, or a key ARN that an
// alias of the fake points to.
func (k *FakeKMS) resolve(id string) (string, bool) {
	if i := strings.Index(id, ":alias/"); i >= 0 {
		id = id[i+1:]
	}
	if strings.HasPrefix(id, "alias/") {
		arn, ok := k.Aliases()[id]
		return arn, ok
	}
	return id, k.keyLive(id)
}

// keyLive: a key one of the aliases points to.
func (k *FakeKMS) keyLive(arn string) bool {
	for _, a := range k.Aliases() {
		if a == arn {
			return true
		}
	}
	return false
}

// KMSAliases are f's live aliases and the ARNs of their target keys
// (aws:kms/alias targetKeyId is the key's id).
func KMSAliases(f *FakeAWS) map[string]string {
	arns := map[string]string{}
	for _, key := range f.Resources("aws:kms/key:Key") {
		id, _ := key.Outputs["keyId"].(string)
		arn, _ := key.Outputs["arn"].(string)
		arns[id], arns[arn] = arn, arn
	}
	out := map[string]string{}
	for _, a := range f.Resources("aws:kms/alias:Alias") {
		name, _ := a.Inputs["name"].(string)
		target, _ := a.Inputs["targetKeyId"].(string)
		if arn, ok := arns[target]; ok && name != "" {
			out[name] = arn
		}
	}
	return out
}
