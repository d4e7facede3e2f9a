# Helpers shared by the layer folders.

# dsm_add_layer(<target> SOURCES ... [DEPENDS ...] [LIBS ...] [PC_REQUIRES ...])
# Declares one layer as an OBJECT library whose objects go into libdsm.
# Every layer sees include/ and common/; DEPENDS names the lower layers whose
# internal headers it includes. LIBS are linked into the layer (for its
# includes) and into libdsm; PC_REQUIRES are the pkg-config modules libdsm then
# needs (Requires.private).
function(dsm_add_layer target)
  cmake_parse_arguments(arg "" "" "SOURCES;DEPENDS;LIBS;PC_REQUIRES" ${ARGN})
  add_library(${target} OBJECT ${arg_SOURCES})
  target_include_directories(${target} PUBLIC
    ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR}/common ${CMAKE_CURRENT_SOURCE_DIR})
  foreach(lower IN LISTS arg_DEPENDS)
    target_include_directories(${target} PUBLIC $<TARGET_PROPERTY:${lower},INTERFACE_INCLUDE_DIRECTORIES>)
  endforeach()
  target_link_libraries(${target} PUBLIC ${arg_LIBS} Threads::Threads)
  set_property(GLOBAL APPEND PROPERTY DSM_LAYER_TARGETS ${target})
  set_property(GLOBAL APPEND PROPERTY DSM_LAYER_LIBS ${arg_LIBS})
  set_property(GLOBAL APPEND PROPERTY DSM_PC_REQUIRES ${arg_PC_REQUIRES})
endfunction()

# Sanitizer switches apply to everything built in this tree.
macro(dsm_apply_sanitizers)
  set(dsm_sanitizers "")
  if(DSM_ENABLE_ASAN)
    list(APPEND dsm_sanitizers address)
  endif()
  if(DSM_ENABLE_UBSAN)
    list(APPEND dsm_sanitizers undefined)
  endif()
  if(DSM_ENABLE_TSAN)
    list(APPEND dsm_sanitizers thread)
  endif()
  if(dsm_sanitizers)
    string(REPLACE ";" "," dsm_sanitizer_list "${dsm_sanitizers}")
    add_compile_options(-fsanitize=${dsm_sanitizer_list} -fno-omit-frame-pointer
                        -fno-sanitize-recover=all)
    add_link_options(-fsanitize=${dsm_sanitizer_list})
  endif()
endmacro()
