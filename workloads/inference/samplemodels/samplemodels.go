// Package samplemodels is a small Triton model repository the platform
// uploads to the model bucket when triton.sampleModels is on (dev's
// default), so Triton never starts on an empty S3 prefix. It has the shape
// of the ID-card pipeline: the ensemble id_card runs detect, then
// recognise, all on Triton's Python backend, in plain text (config.pbtxt,
// model.py) without weights. The models are stand-ins: detect returns the
// whole image as one region and recognise describes what it was given.
package samplemodels

import (
	"embed"
	"io/fs"
)

//go:embed repository
var files embed.FS

// Repository is the model repository, rooted at the model directories.
func Repository() fs.FS {
	sub, err := fs.Sub(files, "repository")
	if err != nil {
		panic(err) // the embedded directory exists at build time
	}
	return sub
}

// EnsembleName is the model lds-service calls (its TRITON_MODEL default).
const EnsembleName = "id_card"
