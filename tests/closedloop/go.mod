module github.com/aiplatform/infra/tests/closedloop

go 1.26.6
