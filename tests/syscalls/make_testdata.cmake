# Builds the read-only fixture tree the conformance programs inspect.
# Run as: cmake -DTESTDATA=<dir> -P make_testdata.cmake
# The constants here are mirrored in syscall_test_util.h (kFileSize, ...).
#
#   testdata/
#     file.txt      10400 bytes: "abcdefghijklmnopqrstuvwxyz" x 400, mode 0644
#     small.txt     "hello, world\n" (13 bytes), mode 0644
#     empty.txt     0 bytes, mode 0644
#     exec.sh       "#!/bin/sh\nexit 0\n", mode 0755
#     dir/          mode 0755: a ("a\n"), b ("bb\n"), sub/ (empty), link -> a
#     many/         200 empty files f000 .. f199
#     rel_link  -> file.txt
#     abs_link  -> <TESTDATA>/file.txt
#     dir_link  -> dir
#     dangling  -> does_not_exist
#     loop1     -> loop2,  loop2 -> loop1
#     self_loop -> self_loop

if(NOT TESTDATA)
  message(FATAL_ERROR "make_testdata.cmake: pass -DTESTDATA=<dir>")
endif()

file(REMOVE_RECURSE "${TESTDATA}")
file(MAKE_DIRECTORY "${TESTDATA}" "${TESTDATA}/dir" "${TESTDATA}/dir/sub"
     "${TESTDATA}/many")

set(rw_r_r OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
set(rwx_rx_rx OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
    WORLD_READ WORLD_EXECUTE)

string(REPEAT "abcdefghijklmnopqrstuvwxyz" 400 content)
file(WRITE "${TESTDATA}/file.txt" "${content}")
file(WRITE "${TESTDATA}/small.txt" "hello, world\n")
file(WRITE "${TESTDATA}/empty.txt" "")
file(WRITE "${TESTDATA}/exec.sh" "#!/bin/sh\nexit 0\n")
# A script whose interpreter line has one optional argument; it exits with
# the number of its arguments plus 40, so the test sees argv arrive.
file(WRITE "${TESTDATA}/exit_argc.sh" "#!/bin/sh -e\nexit $((40 + $#))\n")
# An interpreter chain deeper than Linux follows (4 levels) -> ELOOP.
foreach(i 1 2 3 4 5)
  math(EXPR next "${i} + 1")
  file(WRITE "${TESTDATA}/chain${i}.sh" "#!${TESTDATA}/chain${next}.sh\n")
endforeach()
file(WRITE "${TESTDATA}/chain6.sh" "#!/bin/sh\nexit 0\n")
file(WRITE "${TESTDATA}/dir/a" "a\n")
file(WRITE "${TESTDATA}/dir/b" "bb\n")
foreach(i RANGE 199)
  string(LENGTH "${i}" len)
  if(len EQUAL 1)
    set(i "00${i}")
  elseif(len EQUAL 2)
    set(i "0${i}")
  endif()
  file(WRITE "${TESTDATA}/many/f${i}" "")
endforeach()

file(CHMOD "${TESTDATA}/file.txt" "${TESTDATA}/small.txt"
     "${TESTDATA}/empty.txt" "${TESTDATA}/dir/a" "${TESTDATA}/dir/b"
     PERMISSIONS ${rw_r_r})
file(CHMOD "${TESTDATA}/exec.sh" PERMISSIONS ${rwx_rx_rx})
file(CHMOD "${TESTDATA}/exit_argc.sh" PERMISSIONS ${rwx_rx_rx})
foreach(i 1 2 3 4 5 6)
  file(CHMOD "${TESTDATA}/chain${i}.sh" PERMISSIONS ${rwx_rx_rx})
endforeach()
file(CHMOD "${TESTDATA}" "${TESTDATA}/dir" "${TESTDATA}/dir/sub"
     "${TESTDATA}/many" PERMISSIONS ${rwx_rx_rx})

# Symlink targets are stored verbatim, so relative ones stay relative.
file(CREATE_LINK "a" "${TESTDATA}/dir/link" SYMBOLIC)
file(CREATE_LINK "file.txt" "${TESTDATA}/rel_link" SYMBOLIC)
file(CREATE_LINK "${TESTDATA}/file.txt" "${TESTDATA}/abs_link" SYMBOLIC)
file(CREATE_LINK "dir" "${TESTDATA}/dir_link" SYMBOLIC)
file(CREATE_LINK "does_not_exist" "${TESTDATA}/dangling" SYMBOLIC)
file(CREATE_LINK "loop2" "${TESTDATA}/loop1" SYMBOLIC)
file(CREATE_LINK "loop1" "${TESTDATA}/loop2" SYMBOLIC)
file(CREATE_LINK "self_loop" "${TESTDATA}/self_loop" SYMBOLIC)
