package modem

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// pty is one pseudo-terminal pair. The master is an *os.File in Go's
// poller, so Close unblocks a pending Read. keep holds the slave open for
// the pty's whole life: the master then never reads EIO while the driver
// closes and reopens the slave, and the raw termios set here persist.
type pty struct {
	master *os.File
	keep   *os.File
	slave  string // /dev/pts/N
}

// openPTY allocates a pseudo-terminal through /dev/ptmx (unlockpt and
// ptsname by ioctl) and puts the slave in raw mode: no echo, no line
// editing, no CR/LF translation, 8 bit (cfmakeraw).
func openPTY() (*pty, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	rc, err := master.SyscallConn()
	if err != nil {
		master.Close()
		return nil, err
	}
	var n int
	var ierr error
	if err := rc.Control(func(fd uintptr) {
		if ierr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ierr != nil {
			return
		}
		n, ierr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN)
	}); err != nil || ierr != nil {
		master.Close()
		return nil, fmt.Errorf("unlock pty: %w", firstErr(err, ierr))
	}
	slave := fmt.Sprintf("/dev/pts/%d", n)
	keep, err := os.OpenFile(slave, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		return nil, fmt.Errorf("open %s: %w", slave, err)
	}
	if err := makeRaw(keep); err != nil {
		keep.Close()
		master.Close()
		return nil, fmt.Errorf("raw mode on %s: %w", slave, err)
	}
	return &pty{master: master, keep: keep, slave: slave}, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func makeRaw(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var terr error
	err = rc.Control(func(fd uintptr) {
		t, err := unix.IoctlGetTermios(int(fd), unix.TCGETS)
		if err != nil {
			terr = err
			return
		}
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB
		t.Cflag |= unix.CS8
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		terr = unix.IoctlSetTermios(int(fd), unix.TCSETS, t)
	})
	return firstErr(err, terr)
}

// close hangs the pty up: the driver's next read of the slave fails.
func (p *pty) close() {
	p.master.Close()
	p.keep.Close()
}

// link points path at the slave atomically (symlink to a temporary name,
// then rename), so a replug swaps the target under the same path.
func link(path, target string) error {
	tmp := filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp")
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
