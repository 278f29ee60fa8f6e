"""The few words of the hub's own pages (sign-in, server starting, log out) in UI_LANGUAGE.

JupyterHub's templates have no translations and keep most of these words outside any block, so
page.html hands this table to a small script that puts each phrase's translation in place of
the English one, leaving JupyterHub's templates as they are."""

from .settings import current as current_settings

INSECURE_WARNING = ("Warning: JupyterHub seems to be served over an unsecured HTTP connection. "
                    "We strongly recommend enabling HTTPS for JupyterHub.")

WORDS = {
    "zh_CN": {
        "Sign in": "登录",
        "Username:": "用户名：",
        "Password:": "密码：",
        "Show password": "显示密码",
        "Invalid username or password": "用户名或密码错误",
        INSECURE_WARNING: "警告：JupyterHub 正通过未加密的 HTTP 连接访问，强烈建议启用 HTTPS。",
        "Logout": "退出",
        "Login": "登录",
        "Your server is starting up.": "你的服务器正在启动。",
        "You will be redirected automatically when it's ready for you.": "启动完成后将自动跳转。",
        "Event log": "事件日志",
        "Stop Server": "停止服务器",
        "Start My Server": "启动我的服务器",
        "My Server": "我的服务器",
        "Your server is stopping": "你的服务器正在停止",
        "Start your default server": "启动你的默认服务器",
        "Stop My Server": "停止我的服务器",
        "Submissions": "我的提交",
    },
    "fr_FR": {
        "Sign in": "Connexion",
        "Username:": "Identifiant :",
        "Password:": "Mot de passe :",
        "Show password": "Afficher le mot de passe",
        "Invalid username or password": "Identifiant ou mot de passe incorrect",
        INSECURE_WARNING: "Attention : JupyterHub semble servi par une connexion HTTP non chiffrée. "
                          "Nous vous recommandons vivement d’activer HTTPS.",
        "Logout": "Déconnexion",
        "Login": "Connexion",
        "Your server is starting up.": "Votre serveur démarre.",
        "You will be redirected automatically when it's ready for you.":
            "Vous serez redirigé automatiquement dès qu’il sera prêt.",
        "Event log": "Journal des événements",
        "Stop Server": "Arrêter le serveur",
        "Start My Server": "Démarrer mon serveur",
        "My Server": "Mon serveur",
        "Your server is stopping": "Votre serveur s’arrête",
        "Start your default server": "Démarrer votre serveur par défaut",
        "Stop My Server": "Arrêter mon serveur",
        "Submissions": "Mes rendus",
    },
}

# <html lang> of each language: what screen readers and the browser's fonts go by.
HTML_LANG = {"zh_CN": "zh-CN", "fr_FR": "fr"}


def hub_words(user=None):
    """{"lang": ..., "words": {English: translation}} for UI_LANGUAGE, or {} in English."""
    language = current_settings().ui_language
    if language not in WORDS:
        return {}
    return {"lang": HTML_LANG[language], "words": WORDS[language]}
