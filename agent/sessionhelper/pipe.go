package sessionhelper

// PipeName is the named pipe the service listens on and the helper dials.
const PipeName = `\\.\pipe\peerdesk-agent-helper`

// PipeSDDL is the pipe's security descriptor: a protected DACL (nothing
// inherited) with one entry, full access for SYSTEM. Administrators and
// the logged-on user cannot open it, so only the service and the
// SYSTEM helper it started talk over it; the service also checks that a
// client is the process it launched ([ClientPID]).
const PipeSDDL = "D:P(A;;GA;;;SY)"
