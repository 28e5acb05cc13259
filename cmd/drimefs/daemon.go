package main

import "fmt"

const daemonEnv = "DRIMEFS_DAEMON_CHILD"

func daemonize(args []string) error { return fmt.Errorf("--daemon: not available in this build") }

func notifyReady() {}
