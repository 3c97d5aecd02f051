# Install the library, headers, a CMake package (grove::grove) and grove.pc.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
install(TARGETS grove_shared grove_static EXPORT GroveTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT GroveTargets NAMESPACE grove::
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Grove)
configure_package_config_file(cmake/GroveConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/GroveConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Grove)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/GroveConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/GroveConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/GroveConfigVersion.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/Grove)
# grove.pc finds its prefix relative to itself, so the package can be
# installed anywhere (cmake --install --prefix) and still be right.
file(RELATIVE_PATH GROVE_PC_TO_PREFIX "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" GROVE_PC_TO_PREFIX "${GROVE_PC_TO_PREFIX}")
configure_file(cmake/grove.pc.in ${CMAKE_CURRENT_BINARY_DIR}/grove.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/grove.pc
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
