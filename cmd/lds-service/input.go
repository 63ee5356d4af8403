package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// allowedImageTypes are the sniffed types accepted (http.DetectContentType,
// the WHATWG MIME sniffing algorithm): what ID-card scans and photos come as.
var allowedImageTypes = []string{"image/jpeg", "image/png", "image/webp"}

// inputError is a 4xx answer naming the field at fault.
type inputError struct {
	code    int
	field   string
	message string
}

func (e *inputError) Error() string { return e.field + ": " + e.message }

func badInput(code int, field, format string, args ...any) *inputError {
	return &inputError{code: code, field: field, message: fmt.Sprintf(format, args...)}
}

// jsonRequest is the application/json body.
type jsonRequest struct {
	// Image is the document image, standard base64.
	Image string `json:"image"`
}

// readImage reads the document image from a multipart form (field "image")
// or a JSON body ({"image": "<base64>"}), bounded by maxBytes.
func readImage(w http.ResponseWriter, r *http.Request, maxBytes int64) ([]byte, *inputError) {
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, badInput(http.StatusUnsupportedMediaType, "Content-Type",
			"%q is not a media type; send multipart/form-data with an image field or application/json with {\"image\": \"<base64>\"}", r.Header.Get("Content-Type"))
	}
	var image []byte
	switch mediaType {
	case "multipart/form-data":
		if params["boundary"] == "" {
			return nil, badInput(http.StatusBadRequest, "Content-Type", "multipart/form-data needs a boundary parameter")
		}
		// The image plus room for part headers and a few small fields.
		r.Body = http.MaxBytesReader(w, r.Body, maxBytes+64<<10)
		image, err = readMultipart(r, maxBytes)
	case "application/json":
		r.Body = http.MaxBytesReader(w, r.Body, int64(base64.StdEncoding.EncodedLen(int(maxBytes))+4<<10))
		image, err = readJSON(r, maxBytes)
	default:
		return nil, badInput(http.StatusUnsupportedMediaType, "Content-Type",
			"%q is not accepted; send multipart/form-data with an image field or application/json with {\"image\": \"<base64>\"}", mediaType)
	}
	if err != nil {
		var ie *inputError
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &ie):
			return nil, ie
		case errors.As(err, &tooBig):
			return nil, badInput(http.StatusRequestEntityTooLarge, "image", "larger than the limit of %d bytes (MAX_IMAGE_BYTES)", maxBytes)
		default:
			return nil, badInput(http.StatusBadRequest, "body", "unreadable: %v", err)
		}
	}
	if len(image) == 0 {
		return nil, badInput(http.StatusBadRequest, "image", "required and non-empty: the document image (JPEG, PNG or WebP)")
	}
	if int64(len(image)) > maxBytes {
		return nil, badInput(http.StatusRequestEntityTooLarge, "image", "%d bytes is larger than the limit of %d bytes (MAX_IMAGE_BYTES)", len(image), maxBytes)
	}
	if t := http.DetectContentType(image); !contains(allowedImageTypes, t) {
		return nil, badInput(http.StatusUnsupportedMediaType, "image", "content is %s; accepted: %s", t, strings.Join(allowedImageTypes, ", "))
	}
	return image, nil
}

func readMultipart(r *http.Request, maxBytes int64) ([]byte, error) {
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, badInput(http.StatusBadRequest, "body", "not a multipart form: %v", err)
	}
	var image []byte
	found := false
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, malformedOrTooBig(err, "body", "malformed multipart form: %v")
		}
		name := part.FormName()
		if name != "image" {
			part.Close()
			return nil, badInput(http.StatusBadRequest, name, "unknown form field %q; the only field is image", name)
		}
		if found {
			return nil, badInput(http.StatusBadRequest, "image", "given more than once; send one document per request")
		}
		found = true
		image, err = io.ReadAll(io.LimitReader(part, maxBytes+1))
		if err != nil {
			return nil, malformedOrTooBig(err, "image", "unreadable: %v")
		}
	}
	if !found {
		return nil, badInput(http.StatusBadRequest, "image", "required: a form field named image holding the document")
	}
	return image, nil
}

func readJSON(r *http.Request, maxBytes int64) ([]byte, error) {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	var req jsonRequest
	if err := dec.Decode(&req); err != nil {
		var tooBig *http.MaxBytesError
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &tooBig):
			return nil, err
		case errors.As(err, &typeErr):
			return nil, badInput(http.StatusBadRequest, typeErr.Field, "must be a string of standard base64")
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return nil, badInput(http.StatusBadRequest, field, "unknown field %q; the only field is image", field)
		default:
			return nil, badInput(http.StatusBadRequest, "body", "not valid JSON like {\"image\": \"<base64>\"}: %v", err)
		}
	}
	if dec.More() {
		return nil, badInput(http.StatusBadRequest, "body", "one JSON object expected, found more")
	}
	if req.Image == "" {
		return nil, badInput(http.StatusBadRequest, "image", "required: the document image as standard base64")
	}
	if int64(base64.StdEncoding.DecodedLen(len(req.Image))) > maxBytes+2 {
		return nil, badInput(http.StatusRequestEntityTooLarge, "image", "larger than the limit of %d bytes (MAX_IMAGE_BYTES)", maxBytes)
	}
	image, err := base64.StdEncoding.DecodeString(req.Image)
	if err != nil {
		if image, err = base64.RawStdEncoding.DecodeString(req.Image); err != nil {
			return nil, badInput(http.StatusBadRequest, "image", "not valid base64 (standard alphabet): %v", err)
		}
	}
	return image, nil
}

func malformedOrTooBig(err error, field, format string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return err
	}
	return badInput(http.StatusBadRequest, field, format, err)
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
