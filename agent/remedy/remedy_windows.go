package remedy

// osPlan is each remediation's commands on Windows.
func osPlan(name string) ([]Step, error) {
	switch name {
	case "flush_dns":
		return []Step{{Argv: []string{"ipconfig", "/flushdns"}}}, nil
	case "restart_spooler":
		return []Step{{Argv: []string{"net", "stop", "spooler"}}, {Argv: []string{"net", "start", "spooler"}}}, nil
	case "renew_dhcp":
		return []Step{{Argv: []string{"ipconfig", "/release"}}, {Argv: []string{"ipconfig", "/renew"}}}, nil
	}
	return nil, ErrUnsupported
}
