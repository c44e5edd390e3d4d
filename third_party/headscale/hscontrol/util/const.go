package util

const (
	RegisterMethodAuthKey = "authkey"
	RegisterMethodOIDC    = "oidc"
	RegisterMethodCLI     = "cli"
)
