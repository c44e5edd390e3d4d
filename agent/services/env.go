package services

import "os"

var getenv = os.Getenv
