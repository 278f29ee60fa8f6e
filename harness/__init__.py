"""What tests and benchmarks drive the hub with: the compose stack and a browser-like client
(`stack`), launches signed as edX signs them (`edx`), notebook kernels (`kernels`), and the LMS
side (`lms_page`, a course page that frames the hub; `lms_outcomes`, an outcome service)."""
