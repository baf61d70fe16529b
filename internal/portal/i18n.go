package portal

import (
	"net/http"
	"strconv"
	"strings"
)

// lang picks "ko" or "en" from Accept-Language: Korean first, English when the browser prefers it.
func lang(r *http.Request) string {
	best, bestQ := "ko", -1.0
	for i, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		q -= float64(i) * 1e-6 // earlier wins among equals
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		if (primary == "ko" || primary == "en") && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}

// msg is a message in Korean and English.
type msg struct{ ko, en string }

func (m msg) in(l string) string {
	if l == "en" {
		return m.en
	}
	return m.ko
}

// problem describes an error for people: what happened and what to do next.
type problem struct {
	status int
	title  msg
	what   msg
	todo   msg
	retry  bool
}

// problemOf returns code and its problem, or bad_response's for a code the table does not know.
func problemOf(code string) (string, problem) {
	if pr, ok := problems[code]; ok {
		return code, pr
	}
	return "bad_response", problems["bad_response"]
}

var problems = map[string]problem{
	"login_required": {401, msg{"로그인이 필요합니다", "Please log in"},
		msg{"이 페이지는 로그인한 사용자만 볼 수 있습니다.", "This page is only for signed-in users."},
		msg{"아래 버튼으로 로그인하세요.", "Log in with one of the buttons below."}, true},
	"provider_not_accepted": {401, msg{"다른 계정으로 로그인해야 합니다", "A different login is needed"},
		msg{"이 페이지는 지금 로그인한 방법을 받지 않습니다.", "This page does not accept the account you are signed in with."},
		msg{"아래 목록의 방법으로 다시 로그인하세요.", "Log in again with one of the methods listed."}, true},
	"no_policy": {403, msg{"접근할 수 없는 페이지입니다", "This page is not available"},
		msg{"이 주소에 대한 접근 정책이 없어 안전을 위해 차단했습니다.", "No access policy covers this address, so it is blocked for safety."},
		msg{"주소를 확인하거나 사이트 관리자에게 문의하세요.", "Check the address or contact the site's administrator."}, false},
	"requirement_unavailable": {403, msg{"추가 인증이 필요합니다", "Further verification is required"},
		msg{"이 페이지는 이 사이트에서 아직 제공하지 않는 인증을 요구합니다.", "This page requires a verification this site does not offer yet."},
		msg{"사이트 관리자에게 문의하세요.", "Contact the site's administrator."}, false},
	"access_denied": {400, msg{"로그인이 취소되었습니다", "Login was cancelled"},
		msg{"로그인 화면에서 정보 제공에 동의하지 않았거나 취소했습니다.", "The login was cancelled or consent was not given."},
		msg{"계속하려면 다시 로그인하고 필요한 정보 제공에 동의하세요.", "To continue, log in again and accept the requested information."}, true},
	"invalid_grant": {400, msg{"로그인을 완료하지 못했습니다", "Login could not be completed"},
		msg{"로그인 확인 코드가 만료되었거나 이미 사용되었습니다.", "The login code expired or was already used."},
		msg{"처음부터 다시 로그인하세요.", "Start the login again."}, true},
	"invalid_token": {502, msg{"로그인 제공자가 인증을 거부했습니다", "The login provider refused the sign-in"},
		msg{"로그인 제공자가 발급한 토큰이 만료되었거나 유효하지 않습니다.", "The token from the login provider expired or is invalid."},
		msg{"다시 로그인하세요.", "Log in again."}, true},
	"invalid_id_token": {502, msg{"로그인 응답을 확인할 수 없습니다", "The login answer could not be verified"},
		msg{"로그인 제공자의 응답이 검증을 통과하지 못해 안전을 위해 거부했습니다.", "The provider's answer failed verification and was refused for safety."},
		msg{"다시 로그인하세요. 계속되면 사이트 관리자에게 문의하세요.", "Log in again; if it keeps happening, contact the site's administrator."}, true},
	"forbidden": {502, msg{"프로필 정보를 받을 수 없습니다", "The profile could not be read"},
		msg{"이 사이트가 로그인 제공자의 프로필 정보를 받을 권한이 없습니다.", "This site lacks permission to read your profile from the provider."},
		msg{"사이트 관리자에게 문의하세요.", "Contact the site's administrator."}, false},
	"provider_unavailable": {503, msg{"로그인 서비스에 연결할 수 없습니다", "The login service is not reachable"},
		msg{"로그인 제공자가 응답하지 않거나 오류를 돌려주었습니다. 이미 로그인된 세션에는 영향이 없습니다.", "The login provider did not answer or returned an error. Existing sessions are not affected."},
		msg{"잠시 후 다시 시도하세요.", "Try again in a few minutes."}, true},
	"bad_response": {502, msg{"로그인 응답을 이해할 수 없습니다", "The login answer could not be read"},
		msg{"로그인 제공자가 예상하지 못한 응답을 보냈습니다.", "The login provider sent an unexpected answer."},
		msg{"잠시 후 다시 시도하세요.", "Try again in a few minutes."}, true},
	"misconfigured": {500, msg{"로그인 설정 오류", "Login is misconfigured"},
		msg{"로그인 제공자가 이 사이트의 설정(클라이언트 정보)을 거부했습니다.", "The login provider rejected this site's client settings."},
		msg{"사이트 관리자에게 문의하세요.", "Contact the site's administrator."}, false},
	"state_invalid": {400, msg{"로그인 요청이 만료되었습니다", "The login request expired"},
		msg{"로그인을 시작한 지 너무 오래되었거나, 이미 사용된 로그인 응답입니다.", "The login took too long, or this login answer was already used."},
		msg{"처음부터 다시 로그인하세요.", "Start the login again."}, true},
	"state_mismatch": {400, msg{"로그인 요청이 이 브라우저의 것이 아닙니다", "The login was started in another browser"},
		msg{"보안을 위해 로그인을 시작한 브라우저에서만 완료할 수 있습니다.", "For safety, a login can only be completed in the browser that started it."},
		msg{"이 브라우저에서 다시 로그인하세요.", "Log in again in this browser."}, true},
	"unknown_provider": {404, msg{"알 수 없는 로그인 방법", "Unknown login method"},
		msg{"요청한 로그인 방법은 이 사이트에 설정되어 있지 않습니다.", "The requested login method is not configured on this site."},
		msg{"로그인 화면에서 다른 방법을 고르세요.", "Pick another method on the login page."}, true},
	"cross_origin": {403, msg{"허용되지 않은 요청", "Request refused"},
		msg{"다른 사이트에서 보낸 요청이라 거부했습니다.", "The request came from another site and was refused."},
		msg{"이 사이트의 페이지에서 다시 시도하세요.", "Try again from this site's own page."}, false},
	"no_session": {401, msg{"로그인되어 있지 않습니다", "Not signed in"},
		msg{"현재 로그인된 세션이 없습니다.", "There is no signed-in session."},
		msg{"로그인하세요.", "Log in."}, true},
	"store_unavailable": {503, msg{"일시적인 오류", "Temporary error"},
		msg{"로그인 상태를 저장할 수 없습니다.", "The login state could not be stored."},
		msg{"잠시 후 다시 시도하세요.", "Try again in a few minutes."}, true},
	"underage": {403, msg{"청소년은 이용할 수 없습니다", "Not available to minors"},
		msg{"이 페이지는 청소년유해매체물입니다. 본인인증으로 확인된 나이로는 이용할 수 없습니다 (만 19세가 되는 해의 1월 1일부터 이용할 수 있습니다).", "This page is restricted to adults. The verified age does not allow access (in Korea, from 1 January of the year you turn 19)."},
		msg{"다른 페이지를 이용해 주세요.", "Please use another page."}, false},
	"adult_required": {403, msg{"성인 인증이 필요합니다", "Adult verification required"},
		msg{"이 페이지는 성인만 이용할 수 있으며, 법에 따라 1년마다 나이를 다시 확인합니다.", "This page is for adults only; the law requires the age check to be renewed every year."},
		msg{"본인인증을 진행하세요.", "Verify your identity to continue."}, true},
	"phone_required": {403, msg{"본인인증이 필요합니다", "Identity verification required"},
		msg{"이 페이지는 휴대폰 본인인증을 마친 회원만 이용할 수 있습니다.", "This page is for members who verified their identity by phone."},
		msg{"본인인증을 진행하세요.", "Verify your identity to continue."}, true},
	"verification_failed": {400, msg{"본인인증에 실패했습니다", "Identity verification failed"},
		msg{"본인인증이 완료되지 않았습니다.", "The identity verification did not succeed."},
		msg{"입력한 정보를 확인하고 다시 시도하세요.", "Check your details and try again."}, true},
	"verification_cancelled": {400, msg{"본인인증이 취소되었습니다", "Identity verification was cancelled"},
		msg{"인증 창에서 본인인증을 마치지 않았습니다.", "The verification window was closed before finishing."},
		msg{"다시 시도하세요.", "Try again."}, true},
	"verification_incomplete": {409, msg{"본인인증이 아직 끝나지 않았습니다", "Identity verification is not finished"},
		msg{"인증 창에서 본인인증을 마치지 않았습니다.", "The verification was not finished in its window."},
		msg{"인증 창에서 마무리하거나 다시 시도하세요.", "Finish it in its window, or try again."}, true},
	"verification_unknown": {400, msg{"알 수 없는 본인인증 요청", "Unknown verification request"},
		msg{"이 본인인증 요청은 이 사이트가 발급하지 않았거나, 이미 사용되었거나, 만료되었습니다.", "This verification was not issued here, was already used, or expired."},
		msg{"처음부터 다시 본인인증을 진행하세요.", "Start the verification again."}, true},
	"verification_not_yours": {403, msg{"다른 세션의 본인인증입니다", "This verification belongs to another session"},
		msg{"본인인증은 요청한 브라우저와 로그인에서만 완료할 수 있습니다.", "A verification can only be completed by the login that started it."},
		msg{"이 브라우저에서 다시 본인인증을 진행하세요.", "Start the verification again in this browser."}, true},
	"verification_not_found": {404, msg{"본인인증 기록이 없습니다", "Verification not found"},
		msg{"본인인증 서비스에 이 요청의 기록이 없습니다.", "The verification service has no record of this request."},
		msg{"다시 본인인증을 진행하세요.", "Start the verification again."}, true},
	"ci_mismatch": {403, msg{"계정 주인과 다른 사람의 인증입니다", "Verified person does not match the account"},
		msg{"이 계정은 이미 다른 사람의 본인인증과 연결되어 있어 이 인증을 받을 수 없습니다.", "This account is bound to another person's verification, so this one was refused."},
		msg{"본인 명의의 휴대폰으로 인증하거나 사이트 관리자에게 문의하세요.", "Verify with a phone in your own name, or contact the site's administrator."}, false},
	"document_required": {403, msg{"신분증 인증이 필요합니다", "Document verification required"},
		msg{"이 페이지는 신분증 인증을 마친 회원만 이용할 수 있습니다.", "This page is for members who verified an identity document."},
		msg{"신분증 인증을 진행하세요.", "Verify a document to continue."}, true},
	"document_requires_input": {400, msg{"신분증 인증을 완료하지 못했습니다", "Document verification needs another try"},
		msg{"신분증 확인이 통과되지 않았습니다.", "The document check did not pass."},
		msg{"안내된 이유를 확인하고 다시 시도하세요.", "See the reason and try again."}, true},
	"mfa_required": {401, msg{"추가 인증이 필요합니다", "A second factor is required"},
		msg{"이 페이지는 최근에 2단계 인증을 마친 경우에만 이용할 수 있습니다.", "This page needs a recent second factor."},
		msg{"아래 방법 중 하나로 인증하세요.", "Confirm with one of the methods below."}, true},
	"mfa_locked": {429, msg{"잠시 후 다시 시도하세요", "Too many wrong codes"},
		msg{"잘못된 인증 코드가 여러 번 입력되어 보안을 위해 잠시 막았습니다.", "Too many wrong codes were entered, so step-up is paused for safety."},
		msg{"기다린 뒤 다시 시도하세요.", "Wait, then try again."}, false},
	"mfa_code_invalid": {400, msg{"인증 코드가 맞지 않습니다", "The code is not right"},
		msg{"입력한 코드가 맞지 않거나 이미 사용되었습니다.", "The code is wrong or was already used."},
		msg{"새 코드를 확인해 다시 입력하세요.", "Check the current code and enter it again."}, true},
	"totp_not_enrolled": {400, msg{"인증 앱이 등록되어 있지 않습니다", "No authenticator app is set up"},
		msg{"이 계정에는 확인된 인증 앱이 없습니다.", "This account has no confirmed authenticator app."},
		msg{"인증 앱을 먼저 등록하세요.", "Set up an authenticator app first."}, true},
	"mfa_method_unavailable": {400, msg{"사용할 수 없는 인증 방법", "Method not available"},
		msg{"이 페이지나 이 계정에서는 이 인증 방법을 쓸 수 없습니다.", "This method is not available for this page or account."},
		msg{"다른 방법을 고르세요.", "Pick another method."}, true},
	"otp_send_limited": {429, msg{"코드를 너무 자주 요청했습니다", "Too many codes requested"},
		msg{"짧은 시간에 인증 코드를 너무 많이 요청했습니다.", "Too many codes were requested in a short time."},
		msg{"15분 뒤 다시 요청하거나 이미 받은 코드를 입력하세요.", "Enter a code you received, or ask again in 15 minutes."}, false},
	"otp_send_failed": {503, msg{"코드를 보내지 못했습니다", "The code could not be sent"},
		msg{"메일 또는 문자 발송 서비스가 응답하지 않습니다.", "The e-mail or SMS service did not answer."},
		msg{"잠시 후 다시 시도하거나 다른 방법을 고르세요.", "Try again later or pick another method."}, true},
	"otp_expired": {400, msg{"코드가 만료되었습니다", "The code expired"},
		msg{"인증 코드가 만료되었거나 이미 사용되었습니다.", "The code expired or was already used."},
		msg{"새 코드를 요청하세요.", "Ask for a new code."}, true},
	"otp_attempts_exhausted": {400, msg{"입력 횟수를 넘었습니다", "Too many attempts for this code"},
		msg{"이 코드로 너무 많이 시도해 코드를 무효로 했습니다.", "This code was tried too often and no longer works."},
		msg{"새 코드를 요청하세요.", "Ask for a new code."}, true},
	"recaptcha_token_invalid": {400, msg{"보안 확인이 만료되었습니다", "The security check expired"},
		msg{"페이지의 보안 확인 토큰이 유효하지 않거나 만료되었습니다.", "The page's security token was invalid or expired."},
		msg{"페이지를 새로 고친 뒤 다시 시도하세요.", "Reload the page and try again."}, true},
	"recaptcha_incomplete": {400, msg{"계정 확인이 끝나지 않았습니다", "Account verification is not finished"},
		msg{"이메일로 받은 PIN 확인이 끝나지 않았습니다.", "The PIN sent by e-mail was not confirmed."},
		msg{"PIN을 입력해 다시 시도하세요.", "Enter the PIN and try again."}, true},
	"recaptcha_not_verified": {400, msg{"PIN이 맞지 않습니다", "The PIN is not right"},
		msg{"이메일로 받은 PIN과 일치하지 않습니다.", "The PIN does not match the one sent by e-mail."},
		msg{"메일의 PIN을 확인해 다시 입력하세요.", "Check the PIN in the e-mail and try again."}, true},
	"recaptcha_onboarding_incomplete": {500, msg{"계정 확인을 쓸 수 없습니다", "Account verification is not available"},
		msg{"이 사이트의 reCAPTCHA 계정 확인 설정이 끝나지 않았습니다.", "This site's reCAPTCHA account verification is not fully set up."},
		msg{"다른 방법을 고르거나 사이트 관리자에게 문의하세요.", "Pick another method or contact the site's administrator."}, false},
	"recaptcha_recipient_not_allowed": {400, msg{"이 주소로는 보낼 수 없습니다", "This address cannot receive the PIN"},
		msg{"reCAPTCHA가 이 이메일 주소로 PIN 보내기를 허용하지 않았습니다.", "reCAPTCHA does not allow sending a PIN to this address."},
		msg{"다른 인증 방법을 고르세요.", "Pick another method."}, false},
	"recaptcha_abuse_limit": {429, msg{"요청이 너무 많습니다", "Too many requests for this address"},
		msg{"이 주소로 PIN을 너무 많이 보냈습니다.", "Too many PINs were sent to this address."},
		msg{"나중에 다시 시도하거나 다른 방법을 고르세요.", "Try later or pick another method."}, false},
	"recaptcha_internal_error": {503, msg{"일시적인 오류", "Temporary error"},
		msg{"reCAPTCHA에 내부 오류가 있었습니다.", "reCAPTCHA had an internal error."},
		msg{"잠시 후 다시 시도하세요.", "Try again in a few minutes."}, true},
	"recaptcha_quota_exhausted": {503, msg{"계정 확인을 잠시 쓸 수 없습니다", "Account verification is temporarily unavailable"},
		msg{"이 사이트의 reCAPTCHA 사용량 한도를 넘었습니다.", "This site ran out of reCAPTCHA quota."},
		msg{"다른 방법을 고르거나 나중에 다시 시도하세요.", "Pick another method or try later."}, true},
	"recaptcha_bypassed": {403, msg{"계정 확인이 거부되었습니다", "Account verification was refused"},
		msg{"계정 확인 절차가 정상적으로 진행되지 않았습니다.", "The verification was not carried out properly."},
		msg{"다시 시도하세요.", "Try again."}, true},
	"recaptcha_verdict_mismatch": {400, msg{"계정 확인 결과가 맞지 않습니다", "The verification result does not match"},
		msg{"확인 결과가 이 계정의 요청과 일치하지 않습니다.", "The result does not belong to this account's request."},
		msg{"처음부터 다시 시도하세요.", "Start again."}, true},
	"too_many_logins": {429, msg{"로그인 시도가 너무 많습니다", "Too many login attempts"},
		msg{"이 주소에서 짧은 시간에 로그인을 너무 많이 시작했습니다.", "Too many logins were started from this address in a short time."},
		msg{"10분 뒤에 다시 시도하세요.", "Try again in 10 minutes."}, true},
	"reauth_required": {401, msg{"다시 로그인해 주세요", "Please log in again"},
		msg{"인증 앱을 처음 등록하려면 방금 로그인한 상태여야 합니다.", "Setting up a first authenticator needs a recent login."},
		msg{"다시 로그인한 뒤 등록하세요.", "Log in again, then set it up."}, true},
	"not_found": {404, msg{"페이지를 찾을 수 없습니다", "Not found"},
		msg{"요청한 인증 페이지가 없습니다.", "There is no such idgate page."},
		msg{"주소를 확인하세요.", "Check the address."}, false},
	"path_not_canonical": {400, msg{"잘못된 주소입니다", "This address is not valid"},
		msg{"주소에 허용되지 않는 형식(., .., //, ;, 인코딩된 / 또는 \\ 등)이 들어 있어 안전을 위해 차단했습니다.", "The address contains a form that is not allowed (., .., //, ;, an encoded / or \\, and the like), so it was blocked for safety."},
		msg{"링크를 다시 확인하거나 사이트의 메뉴에서 이동하세요.", "Check the link, or navigate from the site's menus."}, false},
	"path_too_long": {414, msg{"주소가 너무 깁니다", "This address is too long"},
		msg{"주소가 허용된 길이를 넘습니다.", "The address is longer than this site accepts."},
		msg{"링크를 다시 확인하세요.", "Check the link."}, false},
	"bad_host": {400, msg{"잘못된 주소입니다", "This address is not valid"},
		msg{"요청의 호스트 이름이 올바르지 않습니다.", "The request's host name is not valid."},
		msg{"사이트 주소를 확인하세요.", "Check the site's address."}, false},
	"unknown_site": {421, msg{"알 수 없는 사이트 주소", "Unknown site address"},
		msg{"이 서버가 지금 받을 수 없는 사이트 주소로 요청했습니다.", "The request names a site address this server cannot take right now."},
		msg{"사이트의 정식 주소로 접속하세요.", "Use the site's usual address."}, true},
	"cookies_too_large": {431, msg{"쿠키가 너무 많습니다", "Too many cookies"},
		msg{"브라우저가 보낸 쿠키가 너무 많거나 큽니다.", "Your browser sent too many or too large cookies."},
		msg{"이 사이트의 쿠키를 삭제한 뒤 다시 시도하세요.", "Delete this site's cookies and try again."}, false},
	"method_not_allowed": {405, msg{"허용되지 않은 방식", "Method not allowed"},
		msg{"이 주소는 이 요청 방식을 받지 않습니다.", "This address does not accept this request method."},
		msg{"이 사이트의 페이지에서 다시 시도하세요.", "Try again from this site's pages."}, false},
}

var labels = map[string]msg{
	"login_title":          {"로그인", "Log in"},
	"login_lead":           {"계속하려면 로그인하세요.", "Log in to continue."},
	"naver_button":         {"네이버 로그인", "Log in with NAVER"},
	"kakao_button":         {"카카오 로그인", "Login with Kakao"},
	"other_button":         {"%s(으)로 로그인", "Log in with %s"},
	"no_providers":         {"이 페이지에 사용할 수 있는 로그인 방법이 없습니다. 사이트 관리자에게 문의하세요.", "No login method is available for this page. Contact the site's administrator."},
	"privacy":              {"로그인하면 이 사이트가 필요한 최소한의 정보만 받습니다.", "Logging in shares only what this site needs."},
	"retry":                {"다시 시도", "Try again"},
	"home":                 {"처음으로", "Home"},
	"error_code":           {"오류 코드", "Error code"},
	"logout_title":         {"로그아웃", "Log out"},
	"logout_lead":          {"이 기기에서 로그아웃할까요?", "Log out on this device?"},
	"logout_button":        {"로그아웃", "Log out"},
	"logged_out":           {"로그아웃되었습니다.", "You are logged out."},
	"not_logged_in":        {"로그인되어 있지 않습니다.", "You are not logged in."},
	"signed_in_as":         {"로그인: %s", "Signed in: %s"},
	"verify_title":         {"본인인증", "Identity verification"},
	"verify_lead_adult":    {"이 페이지는 청소년유해매체물로, 청소년 보호법에 따라 나이와 본인 여부를 확인해야 합니다. 성인 인증은 1년 동안 유효하며 이후 다시 확인합니다.", "This page is restricted to adults. Korean law requires checking age and identity; the check is valid for one year."},
	"verify_lead_phone":    {"이 페이지는 본인인증을 마친 회원만 이용할 수 있습니다.", "This page is for members who verified their identity."},
	"verify_methods":       {"사용할 수 있는 인증 방법", "Accepted methods"},
	"verify_phone":         {"휴대폰 본인인증 (통신사·PASS)", "Phone verification (mobile carrier, PASS)"},
	"verify_button":        {"휴대폰으로 본인인증", "Verify with my phone"},
	"verify_working":       {"본인인증 창을 여는 중입니다…", "Opening the verification window…"},
	"verify_failed":        {"본인인증을 완료하지 못했습니다.", "The verification could not be completed."},
	"popup_blocked":        {"팝업이 차단되었습니다. 주소창 오른쪽의 팝업 차단 아이콘을 눌러 이 사이트의 팝업을 항상 허용한 뒤 다시 시도하거나, 아래 버튼으로 새 창 없이 인증하세요.", "The pop-up was blocked. Click the blocked pop-up icon at the right of the address bar, always allow pop-ups for this site and try again, or verify without a pop-up below."},
	"verify_redirect":      {"새 창 없이 인증하기", "Verify without a pop-up"},
	"verify_privacy":       {"인증 결과 중 이 사이트가 필요로 하는 정보(생년월일 등)만 저장되며, 연계정보(CI)는 복원할 수 없는 값으로만 보관합니다.", "Only what this site needs (such as the birth date) is kept; the CI is stored only as an irreversible keyed hash."},
	"verify_lead_document": {"이 페이지는 신분증 인증을 마친 회원만 이용할 수 있습니다.", "This page is for members who verified an identity document."},
	"verify_document":      {"신분증 인증 (여권·운전면허증, Stripe Identity)", "ID document (passport or driving licence, Stripe Identity)"},
	"verify_doc_button":    {"신분증으로 인증", "Verify with an ID document"},
	"verify_doc_note":      {"한국 휴대폰이 없는 분은 신분증과 셀피로 인증할 수 있습니다.", "Without a Korean phone, verify with an ID document and a selfie."},
	"processing_title":     {"신분증을 확인하는 중입니다", "Checking your document"},
	"processing_lead":      {"확인에는 보통 몇 분이 걸립니다. 이 페이지는 자동으로 새로 고쳐지며, 끝나면 원래 페이지로 돌아갑니다. 창을 닫아도 결과는 저장됩니다.", "This usually takes a few minutes. This page refreshes itself and returns you when it is done. You may close it; the result is kept."},
	"mfa_title":            {"2단계 인증", "Second factor"},
	"mfa_lead":             {"이 페이지는 최근에 2단계 인증을 마친 경우에만 열립니다. 인증을 마치면 보던 페이지로 돌아갑니다.", "This page needs a recent second factor. You will return to it right after."},
	"mfa_totp":             {"인증 앱 코드 (Google Authenticator, 네이버 OTP, 1Password)", "Authenticator app code (Google Authenticator, Naver OTP, 1Password)"},
	"mfa_code":             {"6자리 코드", "6-digit code"},
	"mfa_confirm":          {"확인", "Confirm"},
	"mfa_recovery":         {"복구 코드 사용", "Use a recovery code"},
	"mfa_email":            {"이메일로 코드 받기", "Send a code by e-mail"},
	"mfa_sms":              {"문자로 코드 받기", "Send a code by SMS"},
	"mfa_sent":             {"코드를 보냈습니다. 5분 안에 입력하세요.", "Code sent. Enter it within 5 minutes."},
	"mfa_setup":            {"인증 앱 등록하기", "Set up an authenticator app"},
	"mfa_none":             {"이 페이지에서 사용할 수 있는 2단계 인증 방법이 없습니다. 인증 앱을 등록하세요.", "No second factor is set up for this page yet. Set up an authenticator app."},
	"accepts_only":         {"이 페이지는 %s 로그인만 받습니다.", "This page accepts only %s login."},
	"mfa_wait":             {"약 %d분 뒤에 다시 시도할 수 있습니다.", "You can try again in about %d minutes."},
	"totp_setup_title":     {"인증 앱 등록", "Set up your authenticator app"},
	"totp_setup_lead":      {"인증 앱으로 QR 코드를 찍거나 아래 키를 입력한 뒤, 앱에 보이는 6자리 코드를 입력하세요.", "Scan the QR code with your authenticator app, or type the key, then enter the 6-digit code it shows."},
	"totp_key":             {"직접 입력할 키", "Key to type in"},
	"recovery_title":       {"복구 코드", "Recovery codes"},
	"recovery_lead":        {"휴대폰을 잃어버렸을 때 쓸 복구 코드입니다. 지금 한 번만 보여 드리니 안전한 곳에 적어 두세요. 각 코드는 한 번만 쓸 수 있습니다.", "Use these if you lose your phone. They are shown only now: keep them somewhere safe. Each works once."},
	"continue":             {"계속", "Continue"},
	"otp_subject":          {"[%s] 인증 코드", "[%s] verification code"},
	"otp_text":             {"[%s] 인증 코드는 %s 입니다. %d분 안에 입력하세요. 요청하지 않았다면 무시하세요.", "[%s] Your code is %s. It expires in %d minutes. Ignore this if you did not ask for it."},
	"mfa_recaptcha":        {"이메일 PIN으로 계정 확인 (reCAPTCHA)", "Confirm with an e-mailed PIN (reCAPTCHA)"},
	"recaptcha_pin":        {"이메일로 받은 PIN", "PIN from the e-mail"},
	"recaptcha_failed":     {"계정 확인을 완료하지 못했습니다.", "Account verification could not be completed."},
}
