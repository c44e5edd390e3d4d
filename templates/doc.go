// Package templates is the home of peerdesk's templ components, one
// subpackage per program so that each binary links only its own pages:
// dashboard (the coordinator: dashboard and portal), agentui (the end
// user's page on the agent), viewerui (the technician's session page).
// Generated *_templ.go files are committed; `just test` fails if
// regenerating them changes anything.
package templates
