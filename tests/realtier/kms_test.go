package realtier

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"
)

// The fake KMS answers like KMS: the JSON 1.1 protocol, signed requests,
// only keys that exist (an alias the fake AWS holds), a ciphertext only
// while its key exists.
func TestFakeKMS(t *testing.T) {
	aliases := map[string]string{"alias/aiplatform-pulumi-secrets": "arn:aws:kms:us-west-2:123456789012:key/k1"}
	k := StartFakeKMS(func() map[string]string { return aliases })
	defer k.Close()
	call := func(op string, body map[string]any, signed bool) (int, map[string]any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, k.URL(), bytes.NewReader(b))
		req.Header.Set("X-Amz-Target", "TrentService."+op)
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		if signed {
			req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=realtier/20261204/us-west-2/kms/aws4_request")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	plain := []byte("data key")
	if code, out := call("Encrypt", map[string]any{"KeyId": "alias/aiplatform-pulumi-secrets", "Plaintext": plain}, false); code != 400 || out["__type"] != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %v", code, out)
	}
	if code, out := call("Encrypt", map[string]any{"KeyId": "alias/other", "Plaintext": plain}, true); code != 400 || out["__type"] != "NotFoundException" {
		t.Errorf("unknown alias: %d %v", code, out)
	}
	code, out := call("Encrypt", map[string]any{"KeyId": "arn:aws:kms:us-west-2:123456789012:alias/aiplatform-pulumi-secrets", "Plaintext": plain}, true)
	if code != 200 || out["KeyId"] != "arn:aws:kms:us-west-2:123456789012:key/k1" {
		t.Fatalf("encrypt by alias ARN: %d %v", code, out)
	}
	blob := out["CiphertextBlob"]
	if code, out := call("Decrypt", map[string]any{"CiphertextBlob": blob}, true); code != 200 || out["Plaintext"] != "ZGF0YSBrZXk=" {
		t.Errorf("decrypt: %d %v", code, out)
	}
	k.FailNext(1)
	if code, out := call("Decrypt", map[string]any{"CiphertextBlob": blob}, true); code != 500 || out["__type"] != "KMSInternalException" {
		t.Errorf("injected failure: %d %v", code, out)
	}
	delete(aliases, "alias/aiplatform-pulumi-secrets") // the key is gone
	if code, out := call("Decrypt", map[string]any{"CiphertextBlob": blob}, true); code != 400 || out["__type"] != "NotFoundException" {
		t.Errorf("decrypt under a deleted key: %d %v", code, out)
	}
	if code, out := call("GenerateDataKey", map[string]any{"KeyId": "alias/aiplatform-pulumi-secrets"}, true); code != 400 || out["__type"] != "UnknownOperationException" {
		t.Errorf("an operation the fake does not model: %d %v", code, out)
	}
	if got := k.Calls(); len(got) != 2 || got[0] != "Encrypt arn:aws:kms:us-west-2:123456789012:key/k1" || got[1] != "Decrypt arn:aws:kms:us-west-2:123456789012:key/k1" {
		t.Errorf("calls %v", got)
	}
}
